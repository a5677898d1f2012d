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
  ProcessSpec spec;
  spec.argv = {binary};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(120);
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : ProcessResult();
}

}  // namespace kvmfarm::testing
