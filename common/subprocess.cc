#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace kvmfarm {
namespace {

// After the child exits, output still buffered in the pipes is read until EOF; a
// descendant that left the process group (setsid) could hold a pipe open forever,
// so the drain is bounded.
constexpr absl::Duration kPostExitDrainLimit = absl::Seconds(2);
// Without pidfd (kernels before 5.3, common on phones) the supervisor polls for
// the child's exit this often.
constexpr int kExitPollIntervalMs = 20;
constexpr size_t kReadChunk = 64 * 1024;

absl::Status ErrnoStatus(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

int PidfdOpen(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

void CloseFd(int* fd) {
  if (*fd >= 0) {
    ::close(*fd);
    *fd = -1;
  }
}

// Keeps the newest `max_bytes` of a stream and cuts it into lines for a callback.
class StreamCollector {
 public:
  StreamCollector(std::string* data, size_t* dropped, size_t max_bytes,
                  std::function<void(absl::string_view)> on_line)
      : data_(data), dropped_(dropped), max_bytes_(max_bytes), on_line_(std::move(on_line)) {}

  void Append(const char* bytes, size_t n) {
    data_->append(bytes, n);
    if (data_->size() > max_bytes_) {
      const size_t excess = data_->size() - max_bytes_;
      data_->erase(0, excess);
      *dropped_ += excess;
    }
    if (!on_line_) return;
    partial_.append(bytes, n);
    size_t start = 0;
    for (size_t nl = partial_.find('\n'); nl != std::string::npos;
         nl = partial_.find('\n', start)) {
      on_line_(absl::string_view(partial_).substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
    // A "line" without end (a progress bar, binary noise) is passed on in pieces
    // rather than held without bound.
    if (partial_.size() > max_bytes_) {
      on_line_(partial_);
      partial_.clear();
    }
  }

  void Finish() {
    if (on_line_ && !partial_.empty()) on_line_(partial_);
    partial_.clear();
  }

 private:
  std::string* data_;
  size_t* dropped_;
  size_t max_bytes_;
  std::function<void(absl::string_view)> on_line_;
  std::string partial_;
};

// Everything the child needs, prepared before fork(): the child may not allocate.
struct ChildSetup {
  const char* program;
  char* const* argv;
  char* const* envp;
  const char* working_dir;  // nullptr = stay
  pid_t parent_pid;
  int stdin_fd;
  int stdout_fd;
  int stderr_fd;
  int error_fd;  // CLOEXEC: closes on a successful exec
};

// Moves `fd` onto `target` and makes sure it survives exec.
void DupOnto(int fd, int target) {
  if (fd == target) {
    const int flags = ::fcntl(fd, F_GETFD);
    ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  } else {
    ::dup2(fd, target);
  }
}

// Runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void ExecChild(const ChildSetup& setup) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);  // the agent blocks SIGINT/SIGTERM
  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) {
    sigaction(sig, &default_action, nullptr);
  }
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl took effect.
  if (getppid() != setup.parent_pid) _exit(127);
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);

  DupOnto(setup.stdin_fd, STDIN_FILENO);
  DupOnto(setup.stdout_fd, STDOUT_FILENO);
  DupOnto(setup.stderr_fd, STDERR_FILENO);

  int report[2] = {0, 0};  // {step, errno}: 1 = chdir, 2 = exec
  if (setup.working_dir != nullptr && chdir(setup.working_dir) != 0) {
    report[0] = 1;
    report[1] = errno;
  } else {
    execve(setup.program, setup.argv, setup.envp);
    report[0] = 2;
    report[1] = errno;
  }
  ssize_t ignored = write(setup.error_fd, report, sizeof(report));
  (void)ignored;
  _exit(127);
}

std::vector<char*> CStringArray(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::string ProcessResult::Describe() const {
  if (timed_out) return "killed at its deadline";
  if (killed) return "killed on request";
  if (exit_code.has_value()) return absl::StrCat("exited with status ", *exit_code);
  if (term_signal != 0) {
    return absl::StrCat("killed by signal ", term_signal, " (", ::strsignal(term_signal), ")");
  }
  return "did not run";
}

absl::StatusOr<std::string> FindProgram(absl::string_view program, absl::string_view path_env) {
  if (program.empty()) return absl::InvalidArgumentError("empty program name");
  auto check = [](const std::string& path) -> absl::Status {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat("program '", path, "' not found"));
    }
    if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("program '", path, "' is not an executable file"));
    }
    return absl::OkStatus();
  };
  if (program.find('/') != absl::string_view::npos) {
    std::string path(program);
    absl::Status status = check(path);
    if (!status.ok()) return status;
    return path;
  }
  absl::Status first_denied = absl::OkStatus();
  for (absl::string_view dir : absl::StrSplit(path_env, ':')) {
    const std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", program);
    absl::Status status = check(candidate);
    if (status.ok()) return candidate;
    if (absl::IsPermissionDenied(status) && first_denied.ok()) {
      first_denied = status;
    }
  }
  if (!first_denied.ok()) return first_denied;
  return absl::NotFoundError(
      absl::StrCat("program '", program, "' not found in PATH (", path_env, ")"));
}

Subprocess::Subprocess(ProcessSpec spec) : spec_(std::move(spec)) {}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(ProcessSpec spec) {
  if (spec.argv.empty()) {
    return absl::InvalidArgumentError("ProcessSpec.argv is empty: no program to run");
  }
  std::string path_env;
  if (spec.env.has_value()) {
    for (const std::string& var : *spec.env) {
      if (absl::StartsWith(var, "PATH=")) path_env = var.substr(5);
    }
  } else if (const char* path = std::getenv("PATH")) {
    path_env = path;
  }
  if (path_env.empty()) path_env = "/usr/local/bin:/usr/bin:/bin";
  absl::StatusOr<std::string> program = FindProgram(spec.argv[0], path_env);
  if (!program.ok()) return program.status();

  std::unique_ptr<Subprocess> process(new Subprocess(std::move(spec)));
  process->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (process->wake_fd_ < 0) return ErrnoStatus("eventfd", errno);

  absl::Status start_status;
  absl::Notification started;
  process->supervisor_ =
      std::thread(&Subprocess::Supervise, process.get(), *program, &start_status, &started);
  started.WaitForNotification();
  if (!start_status.ok()) {
    process->supervisor_.join();
    return start_status;
  }
  return process;
}

void Subprocess::Supervise(const std::string& program, absl::Status* start_status,
                           absl::Notification* started) {
  const absl::Time start_time = absl::Now();
  auto fail_start = [&](absl::Status status) {
    *start_status = std::move(status);
    finished_.Notify();
    started->Notify();
  };

  // Pipes: [0] read end, [1] write end; all CLOEXEC so no other child inherits them.
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1},
      exec_pipe[2] = {-1, -1};
  auto close_all = [&] {
    for (int* p : {out_pipe, err_pipe, in_pipe, exec_pipe}) {
      CloseFd(&p[0]);
      CloseFd(&p[1]);
    }
  };
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    close_all();
    return fail_start(ErrnoStatus("pipe2", err));
  }
  if (spec_.pipe_stdin) {
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
      const int err = errno;
      close_all();
      return fail_start(ErrnoStatus("pipe2", err));
    }
  } else {
    in_pipe[0] = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in_pipe[0] < 0) {
      const int err = errno;
      close_all();
      return fail_start(ErrnoStatus("open /dev/null", err));
    }
  }

  // Everything the child touches is built now: after fork it may not allocate.
  std::string program_copy = program;
  std::vector<std::string> argv_strings = spec_.argv;
  std::vector<char*> argv = CStringArray(argv_strings);
  std::vector<std::string> env_strings;
  if (spec_.env.has_value()) {
    env_strings = *spec_.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  }
  std::vector<char*> envp = CStringArray(env_strings);
  ChildSetup setup;
  setup.program = program_copy.c_str();
  setup.argv = argv.data();
  setup.envp = envp.data();
  setup.working_dir = spec_.working_dir.empty() ? nullptr : spec_.working_dir.c_str();
  setup.parent_pid = ::getpid();
  setup.stdin_fd = in_pipe[0];
  setup.stdout_fd = out_pipe[1];
  setup.stderr_fd = err_pipe[1];
  setup.error_fd = exec_pipe[1];

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    close_all();
    return fail_start(ErrnoStatus("fork", err));
  }
  if (pid == 0) ExecChild(setup);

  CloseFd(&in_pipe[0]);
  CloseFd(&out_pipe[1]);
  CloseFd(&err_pipe[1]);
  CloseFd(&exec_pipe[1]);

  // Blocks until exec succeeded (EOF: the CLOEXEC end closed) or the child reported
  // why it could not run.
  int report[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(exec_pipe[0], report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  CloseFd(&exec_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof(report))) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    close_all();
    const char* step = report[0] == 1 ? "chdir to working_dir" : "execve";
    absl::Status status_out =
        report[1] == ENOENT   ? absl::NotFoundError(absl::StrCat(step, " ", spec_.argv[0], ": ",
                                                                 std::strerror(report[1])))
        : report[1] == EACCES ? absl::PermissionDeniedError(absl::StrCat(
                                    step, " ", spec_.argv[0], ": ", std::strerror(report[1])))
                              : absl::InternalError(absl::StrCat(step, " ", spec_.argv[0], ": ",
                                                                 std::strerror(report[1])));
    return fail_start(std::move(status_out));
  }

  pid_ = pid;
  stdin_fd_ = in_pipe[1];
  in_pipe[1] = -1;
  int pidfd = PidfdOpen(pid);
  *start_status = absl::OkStatus();
  started->Notify();

  result_ = ProcessResult();
  DrainAndReap(out_pipe[0], err_pipe[0], pidfd);
  out_pipe[0] = err_pipe[0] = -1;  // closed by DrainAndReap
  CloseFd(&pidfd);
  result_.wall_time = absl::Now() - start_time;
  close_all();
  finished_.Notify();
}

void Subprocess::DrainAndReap(int stdout_fd, int stderr_fd, int pidfd) {
  const absl::Time deadline = spec_.timeout == absl::InfiniteDuration()
                                  ? absl::InfiniteFuture()
                                  : absl::Now() + spec_.timeout;
  StreamCollector out(&result_.stdout_data, &result_.stdout_dropped_bytes, spec_.max_output_bytes,
                      spec_.on_stdout_line);
  StreamCollector err(&result_.stderr_data, &result_.stderr_dropped_bytes, spec_.max_output_bytes,
                      spec_.on_stderr_line);
  bool exited = false;
  absl::Time drain_until = absl::InfiniteFuture();
  std::vector<char> buffer(kReadChunk);

  auto kill_group = [this] {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);  // in case it left its group
  };

  while (true) {
    if (!exited) {
      // WNOWAIT: the zombie keeps its pid (and so its group id) reserved while the
      // group is killed below; it is reaped only at the end.
      siginfo_t info = {};
      if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
        exited = true;
        ::kill(-pid_, SIGKILL);  // whatever the child left behind in its group
        drain_until = absl::Now() + kPostExitDrainLimit;
      }
    }
    const absl::Time now = absl::Now();
    if (exited && ((stdout_fd < 0 && stderr_fd < 0) || now >= drain_until)) break;
    if (!exited && !result_.timed_out && now >= deadline) {
      result_.timed_out = true;
      kill_group();
    }

    absl::Time wake_at = exited ? drain_until : deadline;
    if (result_.timed_out && !exited) wake_at = absl::InfiniteFuture();
    int timeout_ms = -1;
    if (wake_at != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(absl::Ceil(wake_at - now, absl::Milliseconds(1)))));
    }
    if (!exited && pidfd < 0) {
      timeout_ms = timeout_ms < 0 ? kExitPollIntervalMs : std::min(timeout_ms, kExitPollIntervalMs);
    }

    struct pollfd fds[4];
    int nfds = 0;
    auto add = [&](int fd) {
      if (fd < 0) return -1;
      fds[nfds] = {fd, POLLIN, 0};
      return nfds++;
    };
    const int out_index = add(stdout_fd);
    const int err_index = add(stderr_fd);
    const int pid_index = exited ? -1 : add(pidfd);
    const int wake_index = add(wake_fd_);
    const int ready = ::poll(fds, nfds, timeout_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;

    auto read_stream = [&](int index, int* fd, StreamCollector* collector) {
      if (index < 0 || (fds[index].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        return;
      }
      const ssize_t got = ::read(*fd, buffer.data(), buffer.size());
      if (got > 0) {
        collector->Append(buffer.data(), static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        CloseFd(fd);
      }
    };
    read_stream(out_index, &stdout_fd, &out);
    read_stream(err_index, &stderr_fd, &err);
    (void)pid_index;  // readable means exited; the waitid above picks it up
    if (wake_index >= 0 && (fds[wake_index].revents & POLLIN)) {
      uint64_t count;
      ssize_t ignored = ::read(wake_fd_, &count, sizeof(count));
      (void)ignored;
      absl::MutexLock lock(&mu_);
      if (kill_requested_ && !exited) {
        result_.killed = true;
        kill_group();
      }
    }
  }
  out.Finish();
  err.Finish();
  CloseFd(&stdout_fd);
  CloseFd(&stderr_fd);

  // Reap under the lock, so Kill() never signals a pid that may have been reused.
  absl::MutexLock lock(&mu_);
  int status = 0;
  pid_t reaped;
  do {
    reaped = ::waitpid(pid_, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  reaped_ = true;
  if (reaped == pid_) {
    if (WIFEXITED(status)) {
      result_.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      result_.term_signal = WTERMSIG(status);
    }
  }
  // A child that exited on its own just as it was killed has not been killed.
  if (result_.exit_code.has_value()) {
    result_.timed_out = false;
    result_.killed = false;
  }
}

absl::Status Subprocess::WriteStdin(absl::string_view data) {
  absl::MutexLock lock(&stdin_mu_);
  if (stdin_fd_ < 0) {
    return absl::FailedPreconditionError(
        "the child's stdin is not a pipe (ProcessSpec.pipe_stdin) or was closed");
  }
  // A child that stopped reading would raise SIGPIPE; block it on this thread and
  // take the EPIPE instead.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  absl::Status status = absl::OkStatus();
  while (!data.empty()) {
    const ssize_t n = ::write(stdin_fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      if (err == EPIPE) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, nullptr, &zero);  // consume the pending SIGPIPE
        status = absl::UnavailableError("the child closed its stdin");
      } else {
        status = ErrnoStatus("write to child stdin", err);
      }
      break;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  return status;
}

void Subprocess::CloseStdin() {
  absl::MutexLock lock(&stdin_mu_);
  CloseFd(&stdin_fd_);
}

void Subprocess::Kill() {
  {
    absl::MutexLock lock(&mu_);
    if (reaped_) return;
    kill_requested_ = true;
  }
  const uint64_t one = 1;
  ssize_t ignored = ::write(wake_fd_, &one, sizeof(one));
  (void)ignored;
}

ProcessResult Subprocess::Wait() {
  finished_.WaitForNotification();
  if (supervisor_.joinable()) supervisor_.join();
  return std::move(result_);
}

bool Subprocess::WaitFor(absl::Duration timeout) {
  return finished_.WaitForNotificationWithTimeout(timeout);
}

Subprocess::~Subprocess() {
  if (supervisor_.joinable()) {
    Kill();
    supervisor_.join();
  }
  CloseStdin();
  CloseFd(&wake_fd_);
}

absl::StatusOr<ProcessResult> RunProcess(ProcessSpec spec) {
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(std::move(spec));
  if (!process.ok()) return process.status();
  return (*process)->Wait();
}

}  // namespace kvmfarm
