#include "tools/farmctl/command_table.h"

#include <algorithm>
#include <set>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace kvmfarm::farmctl {
namespace {

constexpr size_t kHelpColumns = 80;

// "start, watch or list".
std::string OneOf(const std::vector<std::string>& words) {
  if (words.size() < 2) return absl::StrJoin(words, "");
  return absl::StrCat(absl::StrJoin(words.begin(), words.end() - 1, ", "), " or ", words.back());
}

// `text`'s words; a bracketed group ("[--plan capability,native]") is one word,
// so a synopsis is never broken inside an option.
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words(1);
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']' && depth > 0) --depth;
    if (c == ' ' && depth == 0) {
      if (!words.back().empty()) words.emplace_back();
    } else {
      words.back() += c;
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

// `text` broken between words into lines of at most kHelpColumns (unless one word
// is longer), the first line after `indent` spaces and the rest after `indent + hang`.
std::string Wrap(const std::string& text, size_t indent, size_t hang = 2) {
  std::string out(indent, ' ');
  size_t column = indent;
  bool line_empty = true;
  for (const std::string& word : Words(text)) {
    if (!line_empty && column + 1 + word.size() > kHelpColumns) {
      absl::StrAppend(&out, "\n", std::string(indent + hang, ' '));
      column = indent + hang;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++column;
    }
    absl::StrAppend(&out, word);
    column += word.size();
    line_empty = false;
  }
  return out + "\n";
}

std::vector<std::string> SubcommandsOf(const std::vector<Command>& commands,
                                       absl::string_view group) {
  std::vector<std::string> subcommands;
  for (const Command& command : commands) {
    std::vector<std::string> words = absl::StrSplit(command.name, ' ');
    if (words.size() == 2 && words[0] == group) subcommands.push_back(words[1]);
  }
  return subcommands;
}

}  // namespace

absl::StatusOr<CommandMatch> FindCommand(const std::vector<Command>& commands,
                                         const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("no command");
  for (size_t words : {2, 1}) {
    if (args.size() < words) continue;
    const std::string name = absl::StrJoin(args.begin(), args.begin() + words, " ");
    for (const Command& command : commands) {
      if (command.name == name) {
        return CommandMatch{&command, std::vector<std::string>(args.begin() + words, args.end())};
      }
    }
  }
  const std::vector<std::string> subcommands = SubcommandsOf(commands, args[0]);
  if (!subcommands.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(args[0], " takes ", OneOf(subcommands)));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown command '", args[0], "'"));
}

bool RemoveHelpFlag(std::vector<char*>* argv) {
  bool found = false;
  std::vector<char*> kept;
  bool flags_ended = false;
  for (size_t i = 0; i < argv->size(); ++i) {
    const absl::string_view arg = (*argv)[i] == nullptr ? "" : (*argv)[i];
    if (i > 0 && arg == "--") flags_ended = true;
    if (i > 0 && !flags_ended && (arg == "--help" || arg == "-help" || arg == "-h")) {
      found = true;
    } else {
      kept.push_back((*argv)[i]);
    }
  }
  *argv = std::move(kept);
  return found;
}

std::string FlagHelp(absl::string_view flag_name) {
  const std::string dashed = absl::StrReplaceAll(flag_name, {{"_", "-"}});
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(flag_name);
  if (flag == nullptr) return Wrap(absl::StrCat("--", dashed, " (undefined)"), 4);
  const std::string fallback = flag->IsOfType<std::string>()
                                   ? absl::StrCat("\"", flag->DefaultValue(), "\"")
                                   : flag->DefaultValue();
  return Wrap(absl::StrCat("--", dashed, " (", flag->Help(), "); default: ", fallback, ";"), 4);
}

std::string CommandHelp(const Command& command) {
  std::string out = Wrap(absl::StrCat("farmctl ", command.name, " ", command.synopsis), 0);
  absl::StrAppend(&out, "\n", Wrap(command.help, 2, 0));
  if (!command.flags.empty()) {
    absl::StrAppend(&out, "\nFlags:\n");
    for (const std::string& flag : command.flags) absl::StrAppend(&out, FlagHelp(flag));
  }
  absl::StrAppend(&out, "\nExample:\n  ", command.example, "\n");
  return out;
}

std::string CommandList(const std::vector<Command>& commands) {
  std::string out;
  for (const Command& command : commands) {
    absl::StrAppend(&out, Wrap(absl::StrCat("farmctl ", command.name, " ", command.synopsis), 2),
                    Wrap(command.help, 6, 0));
  }
  return out;
}

std::string AllFlagsHelp(const std::vector<Command>& commands) {
  std::set<std::string> names;
  for (const Command& command : commands) names.insert(command.flags.begin(), command.flags.end());
  std::string out;
  for (const std::string& name : names) absl::StrAppend(&out, FlagHelp(name));
  return out;
}

}  // namespace kvmfarm::farmctl
