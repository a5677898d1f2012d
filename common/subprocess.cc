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
#include <functional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

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

// The pipes of one child: [0] read end, [1] write end; all CLOEXEC so no other
// child inherits them. stdin is /dev/null (in[0] only) unless it is a pipe.
struct Pipes {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  int in[2] = {-1, -1};
  int exec[2] = {-1, -1};  // the child reports a failed chdir/exec on it

  void CloseAll() {
    for (int* p : {out, err, in, exec}) {
      CloseFd(&p[0]);
      CloseFd(&p[1]);
    }
  }
  // The ends the child owns, once it was forked.
  void CloseChildEnds() {
    CloseFd(&in[0]);
    CloseFd(&out[1]);
    CloseFd(&err[1]);
    CloseFd(&exec[1]);
  }
};

absl::Status OpenPipes(bool pipe_stdin, Pipes* pipes) {
  if (::pipe2(pipes->out, O_CLOEXEC) != 0 || ::pipe2(pipes->err, O_CLOEXEC) != 0 ||
      ::pipe2(pipes->exec, O_CLOEXEC) != 0) {
    return ErrnoStatus("pipe2", errno);
  }
  if (pipe_stdin) {
    if (::pipe2(pipes->in, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  } else {
    pipes->in[0] = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (pipes->in[0] < 0) return ErrnoStatus("open /dev/null", errno);
  }
  return absl::OkStatus();
}

// Everything the child touches, built before fork(): after fork it may not allocate.
class ExecImage {
 public:
  ExecImage(const std::string& program, const ProcessSpec& spec, const Pipes& pipes)
      : program_(program), argv_strings_(spec.argv) {
    argv_ = CStringArray(argv_strings_);
    if (spec.env.has_value()) {
      env_strings_ = *spec.env;
    } else {
      for (char** e = environ; *e != nullptr; ++e) env_strings_.emplace_back(*e);
    }
    envp_ = CStringArray(env_strings_);
    setup_.program = program_.c_str();
    setup_.argv = argv_.data();
    setup_.envp = envp_.data();
    setup_.working_dir = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
    setup_.parent_pid = ::getpid();
    setup_.stdin_fd = pipes.in[0];
    setup_.stdout_fd = pipes.out[1];
    setup_.stderr_fd = pipes.err[1];
    setup_.error_fd = pipes.exec[1];
  }
  ExecImage(const ExecImage&) = delete;
  ExecImage& operator=(const ExecImage&) = delete;

  const ChildSetup& setup() const { return setup_; }

 private:
  std::string program_;
  std::vector<std::string> argv_strings_;
  std::vector<std::string> env_strings_;
  std::vector<char*> argv_;
  std::vector<char*> envp_;
  ChildSetup setup_;
};

// Blocks until exec succeeded (EOF: the CLOEXEC end closed) or the child reported
// why it could not run; then the child is reaped and the error names the step.
absl::Status AwaitExec(pid_t pid, int* exec_read_fd, const std::string& argv0) {
  int report[2] = {0, 0};
  ssize_t n;
  do {
    n = ::read(*exec_read_fd, report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  CloseFd(exec_read_fd);
  if (n != static_cast<ssize_t>(sizeof(report))) return absl::OkStatus();
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const char* step = report[0] == 1 ? "chdir to working_dir" : "execve";
  const std::string message = absl::StrCat(step, " ", argv0, ": ", std::strerror(report[1]));
  if (report[1] == ENOENT) return absl::NotFoundError(message);
  if (report[1] == EACCES) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

void KillGroup(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);  // in case it left its group
}

// The supervisor's loop from start to exit: drains stdout and stderr, kills the
// group at the timeout, passes Kill() wake-ups on, and after the exit reads what is
// left in the pipes for at most kPostExitDrainLimit.
class OutputDrain {
 public:
  OutputDrain(pid_t pid, const ProcessSpec& spec, ProcessResult* result, int stdout_fd,
              int stderr_fd, int pidfd, int wake_fd, std::function<void(bool exited)> on_wake)
      : pid_(pid),
        result_(result),
        stdout_fd_(stdout_fd),
        stderr_fd_(stderr_fd),
        pidfd_(pidfd),
        wake_fd_(wake_fd),
        on_wake_(std::move(on_wake)),
        deadline_(spec.timeout == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                           : absl::Now() + spec.timeout),
        out_(&result->stdout_data, &result->stdout_dropped_bytes, spec.max_output_bytes,
             spec.on_stdout_line),
        err_(&result->stderr_data, &result->stderr_dropped_bytes, spec.max_output_bytes,
             spec.on_stderr_line),
        buffer_(kReadChunk) {}

  // Returns once the child exited and its output was drained; closes both streams.
  void Run() {
    while (true) {
      if (!exited_) NoteExit();
      const absl::Time now = absl::Now();
      if (exited_ && ((stdout_fd_ < 0 && stderr_fd_ < 0) || now >= drain_until_)) break;
      if (!exited_ && !result_->timed_out && now >= deadline_) {
        result_->timed_out = true;
        KillGroup(pid_);
      }
      if (!PollOnce(PollTimeoutMs(now))) break;
    }
    out_.Finish();
    err_.Finish();
    CloseFd(&stdout_fd_);
    CloseFd(&stderr_fd_);
  }

 private:
  // WNOWAIT: the zombie keeps its pid (and so its group id) reserved while the
  // group is killed; it is reaped only after the drain.
  void NoteExit() {
    siginfo_t info = {};
    if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_) {
      exited_ = true;
      ::kill(-pid_, SIGKILL);  // whatever the child left behind in its group
      drain_until_ = absl::Now() + kPostExitDrainLimit;
    }
  }

  // Until the timeout, or the end of the drain once exited; -1 = no limit. Without
  // pidfd the exit is polled for.
  int PollTimeoutMs(absl::Time now) const {
    absl::Time wake_at = exited_ ? drain_until_ : deadline_;
    if (result_->timed_out && !exited_) wake_at = absl::InfiniteFuture();
    int timeout_ms = -1;
    if (wake_at != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(absl::Ceil(wake_at - now, absl::Milliseconds(1)))));
    }
    if (!exited_ && pidfd_ < 0) {
      timeout_ms = timeout_ms < 0 ? kExitPollIntervalMs : std::min(timeout_ms, kExitPollIntervalMs);
    }
    return timeout_ms;
  }

  // One poll() over the streams, the pidfd and the wake-up; false on a poll error.
  bool PollOnce(int timeout_ms) {
    struct pollfd fds[4];
    int nfds = 0;
    auto add = [&](int fd) {
      if (fd < 0) return -1;
      fds[nfds] = {fd, POLLIN, 0};
      return nfds++;
    };
    const int out_index = add(stdout_fd_);
    const int err_index = add(stderr_fd_);
    if (!exited_) add(pidfd_);  // readable means exited; NoteExit picks it up
    const int wake_index = add(wake_fd_);
    const int ready = ::poll(fds, nfds, timeout_ms);
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) return true;
    ReadStream(out_index < 0 ? 0 : fds[out_index].revents, &stdout_fd_, &out_, out_index >= 0);
    ReadStream(err_index < 0 ? 0 : fds[err_index].revents, &stderr_fd_, &err_, err_index >= 0);
    if (wake_index >= 0 && (fds[wake_index].revents & POLLIN)) {
      uint64_t count;
      ssize_t ignored = ::read(wake_fd_, &count, sizeof(count));
      (void)ignored;
      on_wake_(exited_);
    }
    return true;
  }

  void ReadStream(short revents, int* fd, StreamCollector* collector, bool polled) {
    if (!polled || (revents & (POLLIN | POLLHUP | POLLERR)) == 0) return;
    const ssize_t got = ::read(*fd, buffer_.data(), buffer_.size());
    if (got > 0) {
      collector->Append(buffer_.data(), static_cast<size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      CloseFd(fd);
    }
  }

  const pid_t pid_;
  ProcessResult* result_;
  int stdout_fd_;
  int stderr_fd_;
  const int pidfd_;
  const int wake_fd_;
  const std::function<void(bool exited)> on_wake_;
  const absl::Time deadline_;
  StreamCollector out_;
  StreamCollector err_;
  std::vector<char> buffer_;
  bool exited_ = false;
  absl::Time drain_until_ = absl::InfiniteFuture();
};

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
    RETURN_IF_ERROR(check(path));
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
  ASSIGN_OR_RETURN(const std::string program, FindProgram(spec.argv[0], path_env));

  std::unique_ptr<Subprocess> process(new Subprocess(std::move(spec)));
  process->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (process->wake_fd_ < 0) return ErrnoStatus("eventfd", errno);

  absl::Status start_status;
  absl::Notification started;
  process->supervisor_ =
      std::thread(&Subprocess::Supervise, process.get(), program, &start_status, &started);
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
  Pipes pipes;
  auto fail_start = [&](absl::Status status) {
    pipes.CloseAll();
    *start_status = std::move(status);
    finished_.Notify();
    started->Notify();
  };
  absl::Status opened = OpenPipes(spec_.pipe_stdin, &pipes);
  if (!opened.ok()) return fail_start(std::move(opened));
  const ExecImage image(program, spec_, pipes);
  const pid_t pid = ::fork();
  if (pid < 0) return fail_start(ErrnoStatus("fork", errno));
  if (pid == 0) ExecChild(image.setup());
  pipes.CloseChildEnds();
  absl::Status executed = AwaitExec(pid, &pipes.exec[0], spec_.argv[0]);
  if (!executed.ok()) return fail_start(std::move(executed));

  pid_ = pid;
  stdin_fd_ = std::exchange(pipes.in[1], -1);
  int pidfd = PidfdOpen(pid);
  *start_status = absl::OkStatus();
  started->Notify();

  result_ = ProcessResult();
  DrainAndReap(std::exchange(pipes.out[0], -1), std::exchange(pipes.err[0], -1), pidfd);
  CloseFd(&pidfd);
  result_.wall_time = absl::Now() - start_time;
  pipes.CloseAll();
  finished_.Notify();
}

void Subprocess::DrainAndReap(int stdout_fd, int stderr_fd, int pidfd) {
  OutputDrain(pid_, spec_, &result_, stdout_fd, stderr_fd, pidfd, wake_fd_, [this](bool exited) {
    absl::MutexLock lock(&mu_);
    if (kill_requested_ && !exited) {
      result_.killed = true;
      KillGroup(pid_);
    }
  }).Run();
  Reap();
}

void Subprocess::Reap() {
  // Under the lock, so Kill() never signals a pid that may have been reused.
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
  ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(std::move(spec)));
  return process->Wait();
}

}  // namespace kvmfarm
