// farm-workload as a process: static, JSON parses into a BenchmarkResult, progress
// on stderr, clear errors with exit 2.
#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "common/testing/run_binary.h"
#include "farm/v1/common.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::testing::HasSubstr;

std::string Binary() { return testing::Runfile("workloads/farm-workload"); }

ProcessResult RunWorkloadBinary(const std::vector<std::string>& args) {
  return testing::RunBinary(Binary(), args);
}

TEST(FarmWorkloadTest, IsStaticallyLinked) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "--config=asan links dynamically (the sanitizer runtimes are shared); the "
                  "static builds are checked by //tests/static_link and //tests/arm64";
#endif
  ProcessSpec spec;
  spec.argv = {"readelf", "-l", Binary()};
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_TRUE(result.ok() && result->Succeeded());
  EXPECT_THAT(result->stdout_data, ::testing::Not(HasSubstr("INTERP")));
}

TEST(FarmWorkloadTest, AllWorkloadsAsJson) {
  const ProcessResult result = RunWorkloadBinary(
      {"--json", "--repetitions=2", "--size=2M", "--dir=" + std::string(std::getenv("TEST_TMPDIR")),
       "--iterations=integer=1,float=1000,mem_read=1,mem_write=1,mem_random=10000"});
  farm::v1::BenchmarkResult parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(result.stdout_data, &parsed).ok())
      << result.stdout_data << result.stderr_data;
  std::vector<std::string> metrics;
  for (const farm::v1::Measurement& m : parsed.measurements()) {
    metrics.push_back(m.metric());
    EXPECT_EQ(m.values_size(), 2) << m.metric();
  }
  std::vector<std::string> expected = {
      "crypto.sha256",      "crypto.aes256gcm",    "integer.time",   "float.time",
      "mem_read.bandwidth", "mem_write.bandwidth", "mem_random.ops", "mem_random.latency_ns"};
  if (parsed.failures_size() == 0) {  // io is refused where TEST_TMPDIR is a tmpfs
    expected.push_back("io.write");
    expected.push_back("io.read");
    EXPECT_EQ(result.exit_code, 0) << result.stderr_data;
  } else {
    EXPECT_EQ(parsed.failures(0).workload(), "io");
    EXPECT_EQ(result.exit_code, 1);
  }
  EXPECT_EQ(metrics, expected);
  EXPECT_THAT(result.stderr_data, HasSubstr("FARM_PROGRESS {"));
}

TEST(FarmWorkloadTest, BadArgumentsExit2WithOneClearLine) {
  ProcessResult result = RunWorkloadBinary({"--workloads=crypto,nope"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("unknown workload 'nope'"));
  result = RunWorkloadBinary({"--workloads=crypto", "--size=lots"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("--size: 'lots' is not a number"));
  result = RunWorkloadBinary({"--workloads=crypto", "--size=io=1M"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.stderr_data, HasSubstr("'io', which is not among"));
  result = RunWorkloadBinary({"--repetitions=0"});
  EXPECT_EQ(result.exit_code, 2);
}

TEST(FarmWorkloadTest, AnAllocationFailureIsReportedNotCrashed) {
  const ProcessResult result =
      RunWorkloadBinary({"--workloads=mem_read", "--size=60G", "--repetitions=1", "--json"});
  EXPECT_EQ(result.exit_code, 1) << result.Describe();
  EXPECT_THAT(result.stderr_data, HasSubstr("mem_read: cannot allocate"));
}

}  // namespace
}  // namespace kvmfarm
