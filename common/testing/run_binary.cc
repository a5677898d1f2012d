#include "common/testing/run_binary.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kvmfarm::testing {

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/kvmfarm/", path);
}

ProcessResult RunBinary(const std::string& binary, const std::vector<std::string>& args) {
  return RunCommand({binary}, args);
}

ProcessResult RunCommand(const std::vector<std::string>& command,
                         const std::vector<std::string>& args) {
  ProcessSpec spec;
  spec.argv = command;
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(120);
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ProcessResult();
}

std::vector<std::string> CommandUnderTest(const std::string& path) {
  const char* emulator = std::getenv("FARM_EMULATOR");
  if (emulator == nullptr || emulator[0] == '\0') return {Runfile(path)};
  const char* binary = std::getenv("FARM_BINARY_UNDER_TEST");
  EXPECT_TRUE(binary != nullptr && binary[0] != '\0')
      << "FARM_EMULATOR is set but FARM_BINARY_UNDER_TEST is not";
  return {emulator, Runfile(binary != nullptr ? binary : path)};
}

}  // namespace kvmfarm::testing
