// RunNativeBenchmark with a fake farm-workload (common/testing/fake_process_runner.h):
// what it runs, what it relays, and the reason when there is no result.
#include "agent/native_benchmark.h"

#include <atomic>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/probe/probe_test_util.h"
#include "common/proto_time.h"
#include "common/testing/fake_process_runner.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::FakeProcess;
using ::kvmfarm::testing::FakeProcessRunner;
using ::testing::Contains;
using ::testing::HasSubstr;

farm::v1::RunBenchmarkRequest Request() {
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id("native-1");
  request.set_mode(farm::v1::MODE_NATIVE);
  request.add_workloads()->set_name("integer");
  return request;
}

class NativeBenchmarkTest : public ::testing::Test {
 protected:
  NativeBenchmarkTest() {
    options_.workload_binary = "farm-workload";
    options_.work_dir = "/scratch";
    options_.agent_version = "9.9.9";
    options_.process_runner = &processes_;
    options_.sample_interval = absl::Milliseconds(10);
  }

  // Runs `request` on another thread; `drive` plays the child; the result.
  farm::v1::BenchmarkResult Run(const farm::v1::RunBenchmarkRequest& request,
                                const std::function<void(FakeProcess*)>& drive,
                                JobContext context = {}) {
    farm::v1::BenchmarkResult result;
    std::thread job([&] { result = RunNativeBenchmark(request, options_, context); });
    if (drive) drive(processes_.WaitForStart().get());
    job.join();
    return result;
  }

  FakeProcessRunner processes_;
  NativeBenchmarkOptions options_;
};

TEST_F(NativeBenchmarkTest, RunsFarmWorkloadAndRelaysItsProgress) {
  std::vector<farm::v1::Progress> relayed;
  JobContext context;
  context.on_progress = [&relayed](const farm::v1::Progress& p) { relayed.push_back(p); };
  std::vector<std::string> argv;
  const farm::v1::BenchmarkResult result = Run(
      Request(),
      [&argv](FakeProcess* child) {
        argv = child->spec().argv;
        child->EmitStderrLine(R"(FARM_PROGRESS {"workload":"integer","message":"integer 1 of 1"})");
        child->EmitStderrLine("FARM_PROGRESS {garbled");
        child->EmitStderrLine("a log line");
        child->Exit(0, R"({"succeeded":true,"measurements":[{"metric":"integer.ops"}]})");
      },
      context);
  EXPECT_THAT(argv, Contains("--json"));
  EXPECT_THAT(argv, Contains("--dir=/scratch"));
  EXPECT_EQ(argv.front(), "farm-workload");
  ASSERT_EQ(relayed.size(), 1u);
  EXPECT_EQ(relayed[0].message(), "integer 1 of 1");
  EXPECT_TRUE(result.succeeded()) << result.failure_reason();
  EXPECT_EQ(result.attempt_id(), "native-1");
  EXPECT_EQ(result.mode(), farm::v1::MODE_NATIVE);
  ASSERT_EQ(result.measurements_size(), 1);
  EXPECT_EQ(result.log(), "a log line\n");
  EXPECT_EQ(result.provenance().agent_version(), "9.9.9");
  EXPECT_TRUE(result.has_started_at());
  EXPECT_TRUE(result.has_finished_at());
}

// With a cool-down, each repetition is a run of its own after the device cooled
// (here it is cool: the scratch tree's zone is at its start), numbered in the job,
// and the runs' values are one measurement.
TEST_F(NativeBenchmarkTest, ACoolDownRunsEachRepetitionOnItsOwnAndMergesThem) {
  probe::testing::ScratchRoot root;
  root.Write("/sys/class/thermal/thermal_zone0/type", "soc\n");
  root.Write("/sys/class/thermal/thermal_zone0/temp", "40000\n");
  options_.sysroot = root.path();
  farm::v1::RunBenchmarkRequest request = Request();
  request.set_repetitions(3);
  request.mutable_conditions()->set_cool_down_within_celsius(3);
  std::vector<farm::v1::Progress> relayed;
  JobContext context;
  context.on_progress = [&relayed](const farm::v1::Progress& p) { relayed.push_back(p); };
  farm::v1::BenchmarkResult result;
  std::thread job([&] { result = RunNativeBenchmark(request, options_, context); });
  for (int run = 0; run < 3; ++run) {
    std::shared_ptr<FakeProcess> child = processes_.WaitForStart(run + 1);
    EXPECT_THAT(child->spec().argv, Contains("--repetitions=1"));
    child->EmitStderrLine(R"(FARM_PROGRESS {"workload":"integer","repetition":1,"repetitions":1})");
    child->Exit(0, absl::StrCat(R"({"succeeded":true,"measurements":[{"metric":"integer.time",)",
                                R"("parameters":{"iterations":"8"},"values":[)", run + 1, "]}]}"));
  }
  job.join();
  ASSERT_TRUE(result.succeeded()) << result.failure_reason();
  ASSERT_EQ(result.measurements_size(), 1);
  EXPECT_THAT(result.measurements(0).values(), ::testing::ElementsAre(1, 2, 3));
  EXPECT_EQ(result.measurements(0).median(), 2);
  ASSERT_EQ(relayed.size(), 3u);
  EXPECT_EQ(relayed[2].repetition(), 3u);
  EXPECT_EQ(relayed[2].repetitions(), 3u);
  EXPECT_EQ(relayed[2].message(), "integer repetition 3 of 3");
}

TEST_F(NativeBenchmarkTest, ABatteryBelowTheSweepsLevelMeasuresNothing) {
  probe::testing::ScratchRoot root;
  root.Write("/sys/class/power_supply/battery/capacity", "35\n");
  root.Write("/sys/class/power_supply/battery/status", "Discharging\n");
  options_.sysroot = root.path();
  farm::v1::RunBenchmarkRequest request = Request();
  request.mutable_conditions()->set_min_battery_percent(50);
  const farm::v1::BenchmarkResult result = Run(request, nullptr);
  EXPECT_FALSE(result.succeeded());
  EXPECT_EQ(result.failure_reason(), "battery at 35 %, below the 50 % the sweep requires");
  EXPECT_EQ(processes_.started(), 0u);
  // The samples say what the battery was when it refused.
  ASSERT_GE(result.environment_size(), 1);
  EXPECT_EQ(result.environment(0).battery().capacity_percent(), 35);
}

TEST_F(NativeBenchmarkTest, TheRequestDeadlineKillsIt) {
  farm::v1::RunBenchmarkRequest request = Request();
  *request.mutable_deadline() = ToProtoDuration(absl::Milliseconds(50));
  const farm::v1::BenchmarkResult result = Run(request, nullptr);
  EXPECT_TRUE(processes_.WaitForStart()->killed());
  EXPECT_FALSE(result.succeeded());
  EXPECT_EQ(result.failure_reason(), "deadline of 50ms exceeded");
}

TEST_F(NativeBenchmarkTest, CancelKillsIt) {
  JobSlot slot;
  std::unique_ptr<JobSlot::Lease> lease = *slot.Acquire("native-1", farm::v1::JOB_KIND_BENCHMARK);
  JobContext context;
  context.lease = lease.get();
  const farm::v1::BenchmarkResult result = Run(
      Request(), [&slot](FakeProcess*) { ASSERT_TRUE(slot.Cancel("native-1").ok()); }, context);
  EXPECT_TRUE(processes_.WaitForStart()->killed());
  EXPECT_EQ(result.failure_reason(), "cancelled");
}

TEST_F(NativeBenchmarkTest, AVanishedClientKillsIt) {
  std::atomic<bool> gone{false};
  JobContext context;
  context.client_gone = [&gone] { return gone.load(); };
  const farm::v1::BenchmarkResult result = Run(
      Request(), [&gone](FakeProcess*) { gone = true; }, context);
  EXPECT_TRUE(processes_.WaitForStart()->killed());
  EXPECT_EQ(result.failure_reason(), "cancelled: the client went away");
}

TEST_F(NativeBenchmarkTest, NoResultSaysHowTheChildEnded) {
  const farm::v1::BenchmarkResult result =
      Run(Request(), [](FakeProcess* child) { child->Exit(1, "not json"); });
  EXPECT_FALSE(result.succeeded());
  EXPECT_EQ(result.failure_reason(), "farm-workload exited with status 1 without a result");
}

TEST_F(NativeBenchmarkTest, AChildThatCannotStartIsAFailedResult) {
  processes_.FailNextStart(absl::NotFoundError("program 'farm-workload' not found"));
  const farm::v1::BenchmarkResult result = RunNativeBenchmark(Request(), options_, {});
  EXPECT_FALSE(result.succeeded());
  EXPECT_THAT(result.failure_reason(), HasSubstr("cannot start farm-workload: program"));
  EXPECT_EQ(result.attempt_id(), "native-1");
}

}  // namespace
}  // namespace kvmfarm
