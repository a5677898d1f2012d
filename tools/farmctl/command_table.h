// -----------------------------------------------------------------------------
// File: command_table.h
// -----------------------------------------------------------------------------
//
// farmctl's commands as a table: each row names a command ("sweep start"), says in
// one line what it does, lists the flags it reads, shows an example, and points at
// the function that runs it. Dispatch, `farmctl --help` and `farmctl CMD --help`
// are all read from the same rows, so a command and its help can't drift apart.
//
// Example:
//
//   const std::vector<Command> commands = {
//       {"sweep show", "ID", "One sweep and its tasks.", {"controller"},
//        "farmctl sweep show s-20240101-0001", &SweepShow},
//   };
//   absl::StatusOr<CommandMatch> match = FindCommand(commands, {"sweep", "show", "s-1"});
//   // match->command->name == "sweep show", match->operands == {"s-1"}
//   std::cout << CommandHelp(*match->command);
#ifndef KVMFARM_TOOLS_FARMCTL_COMMAND_TABLE_H_
#define KVMFARM_TOOLS_FARMCTL_COMMAND_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/farmctl/rpc_client.h"

namespace kvmfarm::farmctl {

// What a command's handler is given: the words after the command's name and a
// client of the controller (unused by commands that talk to an agent).
struct Invocation {
  std::vector<std::string> operands;
  ControllerClient* controller;
};

// One farmctl command. A handler returns the exit status: 0 done, 1 the request
// failed, 2 bad command line.
struct Command {
  std::string name;                // one or two words: "devices", "sweep start"
  std::string synopsis;            // what follows the name: "ID [--reason TEXT]"
  std::string help;                // one line
  std::vector<std::string> flags;  // the flags it reads, as defined: "group_by"
  std::string example;             // a whole command line
  int (*run)(const Invocation&);
};

// The command `args` starts with, and the words after its name.
struct CommandMatch {
  const Command* command;
  std::vector<std::string> operands;
};

// The command named by the first one or two words of `args`. INVALID_ARGUMENT
// "unknown command 'x'", or for a known first word with an unknown second one
// "sweep takes start, watch or list".
absl::StatusOr<CommandMatch> FindCommand(const std::vector<Command>& commands,
                                         const std::vector<std::string>& args);

// Takes "--help" (also "-help", "-h") out of `argv` and says whether it was there:
// farmctl answers it itself, for the command named, instead of absl's flag list.
// argv[0] is the program; nothing after a bare "--" is a flag.
bool RemoveHelpFlag(std::vector<char*>* argv);

// "  --group-by (matrix: device, model or soc.); default: \"device\";" wrapped at
// 80 columns: a flag as absl's --help shows it, spelt with dashes as operators type
// it. A flag that isn't defined is shown as "(undefined)".
std::string FlagHelp(absl::string_view flag_name);

// One command's help: its synopsis, help line, flags with their meaning, and example.
std::string CommandHelp(const Command& command);

// Every command's synopsis and help line, one after the other.
std::string CommandList(const std::vector<Command>& commands);

// Every flag the commands read, each once, sorted, as FlagHelp.
std::string AllFlagsHelp(const std::vector<Command>& commands);

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_COMMAND_TABLE_H_
