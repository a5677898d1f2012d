#include "common/process_runner.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;

TEST(SubprocessRunnerTest, RunsARealChild) {
  SubprocessRunner processes;
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo hello; exit 4"};
  absl::StatusOr<std::unique_ptr<RunningProcess>> child = processes.Start(spec);
  ASSERT_THAT(child, IsOk());
  const ProcessResult result = (*child)->Wait();
  EXPECT_EQ(result.stdout_data, "hello\n");
  EXPECT_EQ(result.exit_code, 4);
}

TEST(SubprocessRunnerTest, KillEndsTheChild) {
  SubprocessRunner processes;
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "exec sleep 600"};
  absl::StatusOr<std::unique_ptr<RunningProcess>> child = processes.Start(spec);
  ASSERT_THAT(child, IsOk());
  EXPECT_FALSE((*child)->WaitFor(absl::ZeroDuration()));
  (*child)->Kill();
  const ProcessResult result = (*child)->Wait();
  EXPECT_TRUE(result.killed);
}

TEST(SubprocessRunnerTest, AMissingProgramIsNotFound) {
  SubprocessRunner processes;
  ProcessSpec spec;
  spec.argv = {"/nonexistent/program"};
  EXPECT_THAT(processes.Start(spec), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace kvmfarm
