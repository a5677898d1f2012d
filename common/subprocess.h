// -----------------------------------------------------------------------------
// File: subprocess.h
// -----------------------------------------------------------------------------
//
// Runs child programs safely: the agent drives QEMU and farm-workload with it, and
// the probe calls tools (`getprop`, `dmesg`, `qemu-system-* --version`).
//
// Guarantees:
//  * argv only, never a shell string: nothing from the wire is ever interpreted.
//  * The program is looked up in PATH before forking; a missing binary is a clear
//    NOT_FOUND, not a child that exits 127.
//  * stdout and stderr are drained continuously by a supervising thread, so a
//    chatty child never blocks on a full pipe; each can be streamed line by line.
//  * Each child leads its own process group; on deadline, Kill() or destruction the
//    whole group gets SIGKILL, so grandchildren (a shell's `sleep`, QEMU helpers)
//    die with it. Anything left in the group when the child exits is killed too.
//  * PR_SET_PDEATHSIG: if the agent dies, its children die with it. (The signal
//    fires when the *forking thread* exits, so the supervising thread forks and
//    lives exactly as long as the child.)
//  * No core dumps (RLIMIT_CORE = 0): QEMU aborting on an assertion must not write
//    a gigabyte core on a phone.
//  * Always reaped: no zombie outlives the Subprocess object.
//  * Only async-signal-safe calls between fork and exec.
//
// Example:
//
//   ProcessSpec spec;
//   spec.argv = {"qemu-system-x86_64", "-version"};
//   spec.timeout = absl::Seconds(5);
//   ASSIGN_OR_RETURN(ProcessResult result, RunProcess(spec));
//   if (!result.Succeeded()) return absl::InternalError(result.Describe());
#ifndef KVMFARM_COMMON_SUBPROCESS_H_
#define KVMFARM_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"

namespace kvmfarm {

// What to run and how.
struct ProcessSpec {
  // argv[0] is the program: a path, or a name looked up in PATH. Required.
  std::vector<std::string> argv;
  // The whole environment as "KEY=value"; absent = inherit the caller's.
  absl::optional<std::vector<std::string>> env;
  // Working directory; empty = the caller's.
  std::string working_dir;
  // The child (and its process group) is killed this long after it starts.
  absl::Duration timeout = absl::InfiniteDuration();
  // With true, stdin is a pipe fed by Subprocess::WriteStdin; otherwise /dev/null.
  bool pipe_stdin = false;
  // Each stream keeps at most this many bytes: the newest (the tail is what explains
  // a failure); ProcessResult says when bytes were dropped.
  size_t max_output_bytes = 8 << 20;
  // Called on the supervising thread for every complete line (without '\n'), and
  // for a final unterminated line at EOF. Must not block for long. They can run
  // until the Subprocess is destroyed (its destructor kills the child and drains
  // what is left), so an owner whose members they touch declares the Subprocess
  // after those members: it is then destroyed first.
  std::function<void(absl::string_view line)> on_stdout_line;
  std::function<void(absl::string_view line)> on_stderr_line;
};

// How a child ended, and what it printed.
struct ProcessResult {
  // The exit status when it exited; absent when a signal ended it.
  absl::optional<int> exit_code;
  // The signal that ended it, 0 when it exited.
  int term_signal = 0;
  // It was killed because its timeout passed.
  bool timed_out = false;
  // It was killed by Kill() or by destruction of the Subprocess.
  bool killed = false;
  std::string stdout_data;
  std::string stderr_data;
  // Bytes dropped from the front of each stream beyond max_output_bytes.
  size_t stdout_dropped_bytes = 0;
  size_t stderr_dropped_bytes = 0;
  // From start to exit.
  absl::Duration wall_time;

  // Exited with status 0.
  bool Succeeded() const { return exit_code.has_value() && *exit_code == 0; }
  // One line for an operator: "exited with status 1", "killed by SIGKILL after
  // its 2s deadline", "killed by signal 6 (Aborted)".
  std::string Describe() const;
};

// A running child. Destroying it kills the process group and reaps the child.
class Subprocess {
 public:
  // Starts the child. Errors: INVALID_ARGUMENT (empty argv), NOT_FOUND (no such
  // program), PERMISSION_DENIED (not executable), INTERNAL (fork/exec failed).
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(ProcessSpec spec);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // Writes to the child's stdin (spec.pipe_stdin). FAILED_PRECONDITION when stdin
  // is not a pipe or was closed; UNAVAILABLE when the child stopped reading.
  absl::Status WriteStdin(absl::string_view data);
  void CloseStdin();

  // Sends SIGKILL to the child's process group; Wait() then returns promptly.
  void Kill();

  // Blocks until the child has exited (or was killed at its deadline) and been
  // reaped, and its output drained. Call at most once.
  ProcessResult Wait();

  // Waits at most `timeout`; true when the child has finished (Wait() then returns
  // at once).
  bool WaitFor(absl::Duration timeout);

 private:
  explicit Subprocess(ProcessSpec spec);
  void Supervise(const std::string& program, absl::Status* start_status,
                 absl::Notification* started);
  // Drains the child's output until it exited (killing it at its timeout or on
  // Kill()), then reaps it.
  void DrainAndReap(int stdout_fd, int stderr_fd, int pidfd);
  // waitpid, and how the child ended into result_.
  void Reap();

  ProcessSpec spec_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  absl::Mutex stdin_mu_;
  std::thread supervisor_;
  absl::Notification finished_;
  absl::Mutex mu_;
  bool kill_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;
  int wake_fd_ = -1;  // eventfd: wakes the supervisor for Kill()
  ProcessResult result_;
};

// Starts `spec`, waits for it and returns how it ended. The error cases are those of
// Subprocess::Start; a child that fails or is killed is an OK ProcessResult.
absl::StatusOr<ProcessResult> RunProcess(ProcessSpec spec);

// Looks `program` up like execvp would (a name with '/' is taken as a path).
// NOT_FOUND / PERMISSION_DENIED name the program and the PATH searched.
absl::StatusOr<std::string> FindProgram(absl::string_view program, absl::string_view path_env);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_SUBPROCESS_H_
