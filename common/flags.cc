#include "common/flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/flags/parse.h"

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

std::vector<char*> ParseCommandLineFlags(int argc, char** argv) {
  // Kept for the life of the process: absl and the caller hold pointers into it.
  static std::vector<std::string>* storage = new std::vector<std::string>(
      NormalizeFlagNames(std::vector<std::string>(argv, argv + argc)));
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
