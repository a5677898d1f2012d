// farmctl: the operator's command line for kvmfarm. See `farmctl --help`; the
// commands are in commands.cc.
#include <string>
#include <vector>

#include "absl/flags/usage.h"
#include "common/flags.h"
#include "tools/farmctl/command_table.h"
#include "tools/farmctl/commands.h"

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kvmfarm::farmctl::FarmctlUsage());
  std::vector<char*> flags(argv, argv + argc);
  const bool help = kvmfarm::farmctl::RemoveHelpFlag(&flags);
  std::vector<char*> positional =
      kvmfarm::ParseCommandLineFlags(static_cast<int>(flags.size()), flags.data());
  const std::vector<std::string> args(positional.begin() + 1, positional.end());
  return help ? kvmfarm::farmctl::PrintFarmctlHelp(args) : kvmfarm::farmctl::RunFarmctl(args);
}
