// -----------------------------------------------------------------------------
// File: flags.h
// -----------------------------------------------------------------------------
//
// Command-line parsing shared by kvmfarm's binaries: absl::Flags, accepting both
// spellings of a flag name (--device-id and --device_id). Abseil only knows the
// underscore form; operators type dashes.
//
// Example:
//
//   int main(int argc, char** argv) {
//     absl::SetProgramUsageMessage("...");
//     std::vector<char*> args = ParseCommandLineFlags(argc, argv);
//     ...
//   }
#ifndef KVMFARM_COMMON_FLAGS_H_
#define KVMFARM_COMMON_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kvmfarm {

// "--device-id=x" -> "--device_id=x"; anything that is not a flag is unchanged,
// and so is everything after a bare "--".
std::vector<std::string> NormalizeFlagNames(const std::vector<std::string>& args);

// Whether a flag defined in `file` is one of ours (shown by --help), not absl's or
// a library's.
bool IsProjectFlagFile(absl::string_view file);

// absl::ParseCommandLine on the normalized arguments; returns the positional ones
// (argv[0] first). --help lists every project flag. The returned pointers stay valid for the
// process's life.
std::vector<char*> ParseCommandLineFlags(int argc, char** argv);

// ParseCommandLineFlags for a program that takes flags only: a stray positional
// argument is one clear line on stderr and exit status 2.
void ParseFlagsOnly(int argc, char** argv, const char* program);

// A path given on the command line, as the user meant it: `bazel run` starts a
// binary inside its runfiles, so a relative path is taken from the directory the
// user ran it in (BUILD_WORKING_DIRECTORY). Absolute and empty paths are unchanged.
std::string FromUserDir(const std::string& path);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_FLAGS_H_
