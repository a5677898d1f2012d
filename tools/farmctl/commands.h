// -----------------------------------------------------------------------------
// File: commands.h
// -----------------------------------------------------------------------------
//
// farmctl's commands: its flags, the table of commands (command_table.h) and the
// handler of each. Every handler calls the controller (or, for `probe`, an agent)
// through RpcClient and prints what came back. Exit status: 0 done, 1 the request
// failed (one line on stderr), 2 bad command line (the problem and the usage).
//
// Example (main.cc):
//
//   const bool help = RemoveHelpFlag(&argv);
//   std::vector<std::string> args = ...positional arguments after parsing flags...;
//   return help ? PrintFarmctlHelp(args) : RunFarmctl(args);
#ifndef KVMFARM_TOOLS_FARMCTL_COMMANDS_H_
#define KVMFARM_TOOLS_FARMCTL_COMMANDS_H_

#include <string>
#include <vector>

#include "tools/farmctl/command_table.h"

namespace kvmfarm::farmctl {

// Every farmctl command, in the order `farmctl --help` lists them.
const std::vector<Command>& FarmctlCommands();

// What farmctl is, its commands, where the controller is and the exit statuses.
std::string FarmctlUsage();

// Runs the command `args` (the positional arguments) names; its exit status.
int RunFarmctl(const std::vector<std::string>& args);

// `farmctl CMD --help`: that command's help; `farmctl --help` (or an unknown
// command): the usage and every flag. Printed on stdout; exit status 0.
int PrintFarmctlHelp(const std::vector<std::string>& args);

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_COMMANDS_H_
