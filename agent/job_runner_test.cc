#include "agent/job_runner.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/testing/fake_process_runner.h"
#include "common/testing/status_matchers.h"
#include "farm/v1/agent.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::FakeProcess;
using ::kvmfarm::testing::FakeProcessRunner;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;

constexpr absl::Duration kFastPoll = absl::Milliseconds(5);

ProcessSpec Spec() {
  ProcessSpec spec;
  spec.argv = {"farm-workload", "--json"};
  return spec;
}

// A job with a lease of its own, what it reported, and a client that may leave.
class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
        slot_.Acquire("attempt-1", farm::v1::JOB_KIND_BENCHMARK);
    ASSERT_THAT(lease, IsOk());
    lease_ = *std::move(lease);
  }

  JobContext Context() {
    JobContext context;
    context.lease = lease_.get();
    context.client_gone = [this] { return client_gone_.load(); };
    context.on_progress = [this](const farm::v1::Progress& progress) {
      absl::MutexLock lock(&mu_);
      reported_.push_back(progress.message());
    };
    return context;
  }

  // Runs `spec` as the job's child on another thread; join() before reading.
  std::thread RunInBackground(JobRunner* job, ProcessSpec spec, absl::Time deadline,
                              absl::StatusOr<ProcessResult>* out) {
    return std::thread([=] { *out = job->RunProcess(processes_, spec, deadline); });
  }

  std::vector<std::string> reported() {
    absl::MutexLock lock(&mu_);
    return reported_;
  }

  JobSlot slot_;
  std::unique_ptr<JobSlot::Lease> lease_;
  FakeProcessRunner processes_;
  std::atomic<bool> client_gone_{false};
  absl::Mutex mu_;
  std::vector<std::string> reported_ ABSL_GUARDED_BY(mu_);
};

TEST_F(JobRunnerTest, AChildThatExitsIsAFinishedJob) {
  JobRunner job(Context(), kFastPoll);
  absl::StatusOr<ProcessResult> result;
  std::thread run = RunInBackground(&job, Spec(), absl::InfiniteFuture(), &result);
  processes_.WaitForStart()->Exit(0, "{}");
  run.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_data, "{}");
  EXPECT_FALSE(job.stopped());
  EXPECT_EQ(job.end(), JobEnd::kFinished);
}

TEST_F(JobRunnerTest, TheDeadlineKillsTheChild) {
  JobRunner job(Context(), kFastPoll);
  const absl::StatusOr<ProcessResult> result =
      job.RunProcess(processes_, Spec(), absl::Now() + absl::Milliseconds(50));
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->killed);
  EXPECT_TRUE(processes_.WaitForStart()->killed());
  EXPECT_EQ(job.end(), JobEnd::kDeadline);
}

TEST_F(JobRunnerTest, CancelKillsTheChild) {
  JobRunner job(Context(), kFastPoll);
  absl::StatusOr<ProcessResult> result;
  std::thread run = RunInBackground(&job, Spec(), absl::InfiniteFuture(), &result);
  std::shared_ptr<FakeProcess> child = processes_.WaitForStart();
  ASSERT_THAT(slot_.Cancel("attempt-1"), IsOk());
  run.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(child->killed());
  EXPECT_EQ(job.end(), JobEnd::kCancelled);
}

TEST_F(JobRunnerTest, AVanishedClientKillsTheChild) {
  JobRunner job(Context(), kFastPoll);
  absl::StatusOr<ProcessResult> result;
  std::thread run = RunInBackground(&job, Spec(), absl::InfiniteFuture(), &result);
  std::shared_ptr<FakeProcess> child = processes_.WaitForStart();
  client_gone_ = true;
  run.join();
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(child->killed());
  EXPECT_EQ(job.end(), JobEnd::kClientGone);
}

TEST_F(JobRunnerTest, ProgressReachesTheLeaseAndTheClient) {
  JobRunner job(Context(), kFastPoll);
  ProcessSpec spec = Spec();
  spec.on_stderr_line = [&job](absl::string_view line) { job.Report(std::string(line), 1, 2); };
  absl::StatusOr<ProcessResult> result;
  std::thread run = RunInBackground(&job, spec, absl::InfiniteFuture(), &result);
  std::shared_ptr<FakeProcess> child = processes_.WaitForStart();
  child->EmitStderrLine("crypto");
  child->EmitStderrLine("integer");
  child->Exit(0);
  run.join();
  EXPECT_THAT(reported(), ::testing::ElementsAre("crypto", "integer"));
  const absl::optional<farm::v1::JobInfo> current = slot_.Current();
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(current->progress().message(), "integer");
  EXPECT_EQ(current->progress().step(), 1u);
  EXPECT_EQ(current->progress().total_steps(), 2u);
}

TEST_F(JobRunnerTest, AChildThatCannotStartIsAnError) {
  JobRunner job(Context(), kFastPoll);
  processes_.FailNextStart(absl::NotFoundError("no farm-workload"));
  EXPECT_THAT(job.RunProcess(processes_, Spec(), absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(JobRunnerTest, ACancelBeforeTheWorkStartedStopsItAtOnce) {
  JobRunner job(Context(), kFastPoll);
  ASSERT_THAT(slot_.Cancel("attempt-1"), IsOk());
  bool stopped = false;
  job.OnStop([&stopped] { stopped = true; });
  EXPECT_TRUE(stopped);
  EXPECT_EQ(job.WaitUntil([](absl::Time) { return false; }, absl::InfiniteFuture()),
            JobEnd::kCancelled);
}

TEST_F(JobRunnerTest, WaitUntilEndsWhenTheWorkIsDoneOrAtTheDeadline) {
  JobRunner job(Context(), kFastPoll);
  int calls = 0;
  EXPECT_EQ(job.WaitUntil([&calls](absl::Time) { return ++calls == 3; }, absl::InfiniteFuture()),
            JobEnd::kFinished);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(job.WaitUntil(
                [](absl::Time until) {
                  absl::SleepFor(until - absl::Now());
                  return false;
                },
                absl::Now() + absl::Milliseconds(20)),
            JobEnd::kDeadline);
  EXPECT_FALSE(job.stopped());  // the caller decides what the deadline means
}

TEST(JobRunnerWithoutLeaseTest, ReportsOnlyToTheClient) {
  std::vector<std::string> reported;
  JobContext context;
  context.on_progress = [&reported](const farm::v1::Progress& p) {
    reported.push_back(p.message());
  };
  JobRunner job(context);
  job.Report("booting", 1, 1);
  EXPECT_THAT(reported, ::testing::ElementsAre("booting"));
}

TEST(RequestDeadlineTest, TheRequestsOrTheFallback) {
  farm::v1::RunBenchmarkRequest request;
  EXPECT_EQ(RequestDeadline(request, absl::Minutes(30)), absl::Minutes(30));
  *request.mutable_deadline() = ToProtoDuration(absl::Milliseconds(500));
  EXPECT_EQ(RequestDeadline(request, absl::Minutes(30)), absl::Milliseconds(500));
}

}  // namespace
}  // namespace kvmfarm
