#include "common/flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/parse.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"

namespace kvmfarm {

std::vector<std::string> NormalizeFlagNames(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  out.reserve(args.size());
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (i > 0 && !flags_ended && arg == "--") flags_ended = true;
    if (i > 0 && !flags_ended && arg.size() > 2 && arg[0] == '-') {
      const size_t name_start = arg[1] == '-' ? 2 : 1;
      const size_t name_end = std::min(arg.find('='), arg.size());
      std::replace(arg.begin() + name_start, arg.begin() + name_end, '-', '_');
    }
    out.push_back(std::move(arg));
  }
  return out;
}

bool IsProjectFlagFile(absl::string_view file) {
  return !absl::StartsWith(file, "absl/") && !absl::StrContains(file, "/absl/") &&
         !absl::StrContains(file, "external/");
}

std::vector<char*> ParseCommandLineFlags(int argc, char** argv) {
  // --help lists our flags (absl's default matches only files named after the
  // program, which none of ours are) and leaves out absl's and gRPC's own.
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view file) { return IsProjectFlagFile(file); };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  // Kept for the life of the process: absl and the caller hold pointers into it.
  static std::vector<std::string>* storage =
      new std::vector<std::string>(NormalizeFlagNames(std::vector<std::string>(argv, argv + argc)));
  static std::vector<char*>* pointers = [] {
    auto* p = new std::vector<char*>;
    for (std::string& s : *storage) p->push_back(&s[0]);
    p->push_back(nullptr);
    return p;
  }();
  return absl::ParseCommandLine(static_cast<int>(storage->size()), pointers->data());
}

void ParseFlagsOnly(int argc, char** argv, const char* program) {
  std::vector<char*> positional = ParseCommandLineFlags(argc, argv);
  if (positional.size() > 1) {
    std::fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program, positional[1]);
    std::exit(2);
  }
}

std::string FromUserDir(const std::string& path) {
  const char* user_dir = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path.front() == '/' || user_dir == nullptr) return path;
  return std::string(user_dir) + "/" + path;
}

}  // namespace kvmfarm
