// -----------------------------------------------------------------------------
// File: testing/run_binary.h
// -----------------------------------------------------------------------------
//
// For tests that drive one of kvmfarm's binaries as a process: where a `data`
// dependency lives in the runfiles, and running it to completion.
//
// Example:
//
//   ProcessResult result = RunBinary(Runfile("agent/farm-agent"), {"--probe"});
//   EXPECT_EQ(result.exit_code, 0);
#ifndef KVMFARM_COMMON_TESTING_RUN_BINARY_H_
#define KVMFARM_COMMON_TESTING_RUN_BINARY_H_

#include <string>
#include <vector>

#include "common/subprocess.h"

namespace kvmfarm::testing {

// `a` then `b`: a command line put together from parts (flags of a TestLab, ...).
inline std::vector<std::string> Concat(std::vector<std::string> a,
                                       const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The runfiles path of `path` (relative to the workspace root).
std::string Runfile(const std::string& path);

// Runs `binary args...` to completion (killed after two minutes); a start failure
// is a test failure and an empty result.
ProcessResult RunBinary(const std::string& binary, const std::vector<std::string>& args);

// The same for a command that starts the binary, e.g. {"qemu-aarch64-static",
// "<arm64 binary>"} for a binary of another architecture.
ProcessResult RunCommand(const std::vector<std::string>& command,
                         const std::vector<std::string>& args);

// The command that starts the runfile `path` in a test that runs one binary either
// natively or emulated: with $FARM_EMULATOR set (a test target's `env`), the
// emulator runs $FARM_BINARY_UNDER_TEST (a runfile path) instead of `path`.
std::vector<std::string> CommandUnderTest(const std::string& path);

}  // namespace kvmfarm::testing

#endif  // KVMFARM_COMMON_TESTING_RUN_BINARY_H_
