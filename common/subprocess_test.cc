#include "common/subprocess.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

ProcessSpec Shell(const std::string& script) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  return spec;
}

// True once `pid` is gone or a zombie no one will reap (this sandbox's pid 1 may
// not reap orphans). Waits for the kernel to finish delivering SIGKILL, bounded.
bool ProcessIsDead(pid_t pid) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (absl::Now() < give_up) {
    std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    const size_t paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() &&
        (line[paren + 2] == 'Z' || line[paren + 2] == 'X')) {
      return true;
    }
    std::this_thread::yield();
  }
  return false;
}

TEST(SubprocessTest, CapturesStdoutStderrAndExitCode) {
  absl::StatusOr<ProcessResult> result = RunProcess(Shell("echo out; echo err >&2; exit 3"));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->stdout_data, "out\n");
  EXPECT_EQ(result->stderr_data, "err\n");
  ASSERT_TRUE(result->exit_code.has_value());
  EXPECT_EQ(*result->exit_code, 3);
  EXPECT_FALSE(result->Succeeded());
  EXPECT_FALSE(result->timed_out);
  EXPECT_EQ(result->Describe(), "exited with status 3");
}

TEST(SubprocessTest, SucceedsOnZero) {
  ProcessSpec spec;
  spec.argv = {"true"};  // looked up in PATH
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->Succeeded());
}

TEST(SubprocessTest, MissingProgramIsNotFoundNamingIt) {
  ProcessSpec spec;
  spec.argv = {"kvmfarm-no-such-program", "--version"};
  EXPECT_THAT(RunProcess(spec), StatusIs(absl::StatusCode::kNotFound,
                                         HasSubstr("'kvmfarm-no-such-program' not found in PATH")));
  spec.argv = {"/nonexistent/qemu-system-x86_64"};
  EXPECT_THAT(RunProcess(spec),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/qemu")));
}

TEST(SubprocessTest, NonExecutableFileIsPermissionDenied) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/not-exec");
  std::ofstream(path) << "#!/bin/sh\necho hi\n";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ProcessSpec spec;
  spec.argv = {path};
  EXPECT_THAT(RunProcess(spec), StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST(SubprocessTest, EmptyArgvIsInvalid) {
  EXPECT_THAT(RunProcess(ProcessSpec()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("argv")));
}

TEST(SubprocessTest, BadWorkingDirIsReportedNotRun) {
  ProcessSpec spec = Shell("echo ran");
  spec.working_dir = "/nonexistent-dir";
  EXPECT_THAT(RunProcess(spec), StatusIs(absl::StatusCode::kNotFound, HasSubstr("chdir")));
}

TEST(SubprocessTest, ArgumentsAreNeverInterpretedByAShell) {
  ProcessSpec spec;
  spec.argv = {"echo", "$(id); rm -rf /tmp/x", "a b"};
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->stdout_data, "$(id); rm -rf /tmp/x a b\n");
}

TEST(SubprocessTest, PassesEnvironmentAndWorkingDir) {
  ProcessSpec spec = Shell("echo \"$FARM_TEST_VAR\"; pwd");
  spec.env = std::vector<std::string>{"FARM_TEST_VAR=pixel8", "PATH=/usr/bin:/bin"};
  spec.working_dir = "/";
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->stdout_data, "pixel8\n/\n");
}

TEST(SubprocessTest, KillsAChildAndItsChildrenAtTheDeadline) {
  // The shell starts a grandchild, prints its pid, and waits for it forever.
  ProcessSpec spec = Shell("sleep 600 & echo $!; wait");
  spec.timeout = absl::Milliseconds(300);
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->term_signal, SIGKILL);
  EXPECT_FALSE(result->exit_code.has_value());
  EXPECT_EQ(result->Describe(), "killed at its deadline");
  EXPECT_LT(result->wall_time, absl::Seconds(30));
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(result->stdout_data), &grandchild))
      << result->stdout_data;
  EXPECT_TRUE(ProcessIsDead(grandchild));
}

TEST(SubprocessTest, KillsWhatAChildLeavesBehindInItsGroup) {
  // The child exits at once; its background grandchild must not outlive it.
  absl::StatusOr<ProcessResult> result = RunProcess(Shell("sleep 600 & echo $!"));
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->Succeeded());
  int grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(result->stdout_data), &grandchild));
  EXPECT_TRUE(ProcessIsDead(grandchild));
}

TEST(SubprocessTest, LeavesNoZombie) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(Shell("exit 0"));
  ASSERT_THAT(process, IsOk());
  const pid_t pid = (*process)->pid();
  ProcessResult result = (*process)->Wait();
  EXPECT_TRUE(result.Succeeded());
  // Reaped already: the pid is no child of ours any more.
  int status;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SubprocessTest, KillStopsAChildPromptly) {
  ProcessSpec spec;
  spec.argv = {"sleep", "600"};
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spec);
  ASSERT_THAT(process, IsOk());
  EXPECT_FALSE((*process)->WaitFor(absl::ZeroDuration()));
  (*process)->Kill();
  ProcessResult result = (*process)->Wait();
  EXPECT_TRUE(result.killed);
  EXPECT_EQ(result.term_signal, SIGKILL);
  EXPECT_EQ(result.Describe(), "killed on request");
}

TEST(SubprocessTest, DestroyingARunningChildKillsAndReapsIt) {
  ProcessSpec spec;
  spec.argv = {"sleep", "600"};
  pid_t pid;
  {
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spec);
    ASSERT_THAT(process, IsOk());
    pid = (*process)->pid();
  }
  int status;
  EXPECT_EQ(::waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(::kill(pid, 0), -1);  // reaped: the pid no longer exists
}

TEST(SubprocessTest, AChattyChildNeverBlocksAndOutputIsBounded) {
  // 6 MB on each stream, far beyond a pipe's 64 KiB buffer.
  ProcessSpec spec = Shell(
      "head -c 6000000 /dev/zero | tr '\\0' 'o'; "
      "head -c 6000000 /dev/zero | tr '\\0' 'e' >&2; echo tail");
  spec.max_output_bytes = 1 << 20;
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_THAT(result, IsOk());
  EXPECT_TRUE(result->Succeeded());
  EXPECT_EQ(result->stdout_data.size(), 1u << 20);
  EXPECT_EQ(result->stdout_dropped_bytes, 6000000u + 5u - (1u << 20));
  EXPECT_EQ(result->stdout_data.substr(result->stdout_data.size() - 5), "tail\n");
  EXPECT_EQ(result->stderr_data.size(), 1u << 20);
  EXPECT_EQ(result->stderr_dropped_bytes, 6000000u - (1u << 20));
}

TEST(SubprocessTest, StreamsLinesAsTheyArrive) {
  std::vector<std::string> out_lines, err_lines;
  ProcessSpec spec = Shell(
      "printf 'FARM_BOOTED uptime=0.31\\nsecond\\n'; "
      "printf 'warn\\n' >&2; printf 'no newline'");
  spec.on_stdout_line = [&](absl::string_view line) { out_lines.emplace_back(line); };
  spec.on_stderr_line = [&](absl::string_view line) { err_lines.emplace_back(line); };
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  ASSERT_THAT(result, IsOk());
  EXPECT_THAT(out_lines, ElementsAre("FARM_BOOTED uptime=0.31", "second", "no newline"));
  EXPECT_THAT(err_lines, ElementsAre("warn"));
}

TEST(SubprocessTest, FeedsStdinThroughAPipe) {
  ProcessSpec spec;
  spec.argv = {"cat"};
  spec.pipe_stdin = true;
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spec);
  ASSERT_THAT(process, IsOk());
  EXPECT_THAT((*process)->WriteStdin("ping\n"), IsOk());
  (*process)->CloseStdin();
  ProcessResult result = (*process)->Wait();
  EXPECT_EQ(result.stdout_data, "ping\n");
  EXPECT_THAT((*process)->WriteStdin("late"), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(SubprocessTest, WritingToAChildThatStoppedReadingIsAnError) {
  ProcessSpec spec = Shell("exec 0<&-; echo closed");
  spec.pipe_stdin = true;
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spec);
  ASSERT_THAT(process, IsOk());
  ProcessResult result = (*process)->Wait();
  EXPECT_TRUE(result.Succeeded());
  // The reader is gone: EPIPE comes back as a status, not a SIGPIPE death.
  EXPECT_THAT((*process)->WriteStdin("anyone?\n"), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(SubprocessTest, StdinIsDevNullByDefault) {
  absl::StatusOr<ProcessResult> result = RunProcess(Shell("cat; echo done"));
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->stdout_data, "done\n");
}

TEST(SubprocessTest, NoCoreDumpsAndSignalDeathIsReported) {
  absl::StatusOr<ProcessResult> limit = RunProcess(Shell("ulimit -c"));
  ASSERT_THAT(limit, IsOk());
  EXPECT_EQ(limit->stdout_data, "0\n");
  absl::StatusOr<ProcessResult> aborted = RunProcess(Shell("kill -ABRT $$"));
  ASSERT_THAT(aborted, IsOk());
  EXPECT_EQ(aborted->term_signal, SIGABRT);
  EXPECT_FALSE(aborted->timed_out);
  EXPECT_THAT(aborted->Describe(), HasSubstr("killed by signal 6"));
}

TEST(SubprocessTest, ManyChildrenAtOnceFromManyThreads) {
  constexpr int kThreads = 8;
  absl::Mutex mu;
  std::vector<std::string> outputs;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([i, &mu, &outputs] {
      absl::StatusOr<ProcessResult> result = RunProcess(Shell(absl::StrCat("echo ", i)));
      absl::MutexLock lock(&mu);
      outputs.push_back(result.ok() ? result->stdout_data : "error");
    });
  }
  for (std::thread& t : threads) t.join();
  std::sort(outputs.begin(), outputs.end());
  ASSERT_EQ(outputs.size(), static_cast<size_t>(kThreads));
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(outputs[i], absl::StrCat(i, "\n"));
}

TEST(FindProgramTest, SearchesEachPathEntry) {
  EXPECT_THAT(FindProgram("sh", "/nonexistent:/bin"), ::kvmfarm::testing::IsOkAndHolds("/bin/sh"));
  EXPECT_THAT(FindProgram("sh", "/nonexistent"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("(/nonexistent)")));
}

}  // namespace
}  // namespace kvmfarm
