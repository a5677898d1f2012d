#include "controller/dashboard/testing/chromium.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

extern char** environ;

namespace kvmfarm::dashboard::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Set to the browser's directory in the environment of everything it starts, so
// its crash handlers, which leave its process group, can be found at the end.
constexpr char kDirectoryEnv[] = "KVMFARM_CHROMIUM_DIR";
// How long the browser gets to close before its process group is killed.
constexpr absl::Duration kCloseLimit = absl::Seconds(5);
// How long its helpers and crash handlers get to follow it out before SIGKILL.
constexpr absl::Duration kHelperExitLimit = absl::Seconds(3);
// How long a broken pipe waits for the browser's exit status.
constexpr absl::Duration kExitStatusWait = absl::Seconds(2);
constexpr absl::Duration kWaitForInterval = absl::Milliseconds(20);
constexpr size_t kLogTailBytes = 64 * 1024;
constexpr int kLogTailLines = 20;

absl::Status ErrnoStatus(absl::string_view what, int err) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(err)));
}

void CloseFd(int* fd) {
  if (*fd >= 0) {
    ::close(*fd);
    *fd = -1;
  }
}

// A file descriptor closed when it goes out of scope.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd() { CloseFd(&fd_); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd) {
    CloseFd(&fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// A pipe (close-on-exec) whose ends are at fd 10 or above, so that putting the
// browser's ends on its fds 3 and 4 can never overwrite one with the other.
absl::Status HighPipe(ScopedFd* read_end, ScopedFd* write_end) {
  int low[2];
  if (::pipe2(low, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  ScopedFd low_read(low[0]), low_write(low[1]);
  ScopedFd high_read(::fcntl(low[0], F_DUPFD_CLOEXEC, 10));
  if (high_read.get() < 0) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", errno);
  ScopedFd high_write(::fcntl(low[1], F_DUPFD_CLOEXEC, 10));
  if (high_write.get() < 0) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", errno);
  read_end->reset(high_read.release());
  write_end->reset(high_write.release());
  return absl::OkStatus();
}

absl::Status SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus("fcntl(O_NONBLOCK)", errno);
  }
  return absl::OkStatus();
}

// Blocks SIGPIPE in this thread while it writes to the browser, so that a browser
// that is gone makes write() fail with EPIPE instead of killing the test. A
// SIGPIPE raised meanwhile is consumed before the old mask comes back.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&sigpipe_);
    sigaddset(&sigpipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &sigpipe_, &old_mask_);
  }
  ~ScopedSigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const struct timespec no_wait = {0, 0};
      while (sigtimedwait(&sigpipe_, nullptr, &no_wait) < 0 && errno == EINTR) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t sigpipe_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

// posix_spawn's two argument objects, destroyed when they go out of scope.
struct SpawnSettings {
  SpawnSettings() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~SpawnSettings() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  SpawnSettings(const SpawnSettings&) = delete;
  SpawnSettings& operator=(const SpawnSettings&) = delete;

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
};

// --- Building and reading the protocol's JSON, as google.protobuf.Struct. ---

Value Str(absl::string_view text) {
  Value value;
  value.set_string_value(std::string(text));
  return value;
}

Value Num(double number) {
  Value value;
  value.set_number_value(number);
  return value;
}

Value Bool(bool flag) {
  Value value;
  value.set_bool_value(flag);
  return value;
}

Value Obj(Struct object) {
  Value value;
  *value.mutable_struct_value() = std::move(object);
  return value;
}

Struct Object(std::initializer_list<std::pair<const char*, Value>> fields) {
  Struct object;
  for (const auto& [name, value] : fields) (*object.mutable_fields())[name] = value;
  return object;
}

// The field `name` of `object`; nullptr when it has none.
const Value* Field(const Struct& object, const char* name) {
  auto it = object.fields().find(name);
  return it == object.fields().end() ? nullptr : &it->second;
}

// The string field `name` of `object`; "" when it has none.
std::string StringField(const Struct& object, const char* name) {
  const Value* value = Field(object, name);
  return value != nullptr && value->kind_case() == Value::kStringValue ? value->string_value() : "";
}

// The object field `name` of `object`; an empty one when it has none.
const Struct& StructField(const Struct& object, const char* name) {
  const Value* value = Field(object, name);
  return value != nullptr && value->has_struct_value() ? value->struct_value()
                                                       : Struct::default_instance();
}

template <typename Message>
absl::StatusOr<std::string> ToJson(const Message& message) {
  std::string json;
  const auto status = google::protobuf::util::MessageToJsonString(message, &json);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("can't write as JSON: ", status.ToString()));
  }
  return json;
}

// `text` cut to a length that reads well inside an error message.
std::string Shorten(absl::string_view text) {
  constexpr size_t kMax = 120;
  if (text.size() <= kMax) return std::string(text);
  return absl::StrCat(text.substr(0, kMax), "...");
}

absl::string_view FirstLine(absl::string_view text) {
  return text.substr(0, std::min(text.find('\n'), text.size()));
}

// A Runtime.RemoteObject returned by value as text; see Chromium::Evaluate.
std::string RemoteObjectText(const Struct& remote) {
  const std::string type = StringField(remote, "type");
  if (type == "undefined") return "undefined";
  const std::string unserializable = StringField(remote, "unserializableValue");
  if (!unserializable.empty()) return unserializable;
  if (const Value* value = Field(remote, "value")) {
    if (value->kind_case() == Value::kStringValue) return value->string_value();
    absl::StatusOr<std::string> json = ToJson(*value);
    if (json.ok()) return *json;
  }
  const std::string description = StringField(remote, "description");
  return description.empty() ? type : description;
}

// A Runtime.ExceptionDetails in one line: "Uncaught ReferenceError: x is not defined".
std::string ExceptionText(const Struct& details) {
  const std::string text = StringField(details, "text");
  const Struct& exception = StructField(details, "exception");
  std::string detail(FirstLine(StringField(exception, "description")));
  if (detail.empty() && Field(exception, "value") != nullptr) detail = RemoteObjectText(exception);
  if (detail.empty() || absl::StrContains(text, detail)) return text;
  return text.empty() ? detail : absl::StrCat(text, " ", detail);
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return absl::StrCat("was killed by signal ", WTERMSIG(status), " (",
                        strsignal(WTERMSIG(status)), ")");
  }
  return absl::StrCat("ended with wait status ", status);
}

// True when /proc shows this process's PID namespace (not so in some sandboxes),
// so that the PIDs found there can be signalled.
bool ProcIsOurs() {
  char self[32] = {};
  const ssize_t n = ::readlink("/proc/self", self, sizeof(self) - 1);
  return n > 0 && absl::string_view(self, n) == absl::StrCat(::getpid());
}

// True when process `pid` has `entry` ("NAME=value") in its environment.
bool HasEnvironmentEntry(pid_t pid, absl::string_view entry) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/environ"), std::ios::binary);
  if (!in) return false;
  const std::string environment((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  for (absl::string_view line : absl::StrSplit(environment, '\0')) {
    if (line == entry) return true;
  }
  return false;
}

// The processes outside process group `group` whose environment holds `entry`.
std::vector<pid_t> MarkedProcessesOutside(pid_t group, absl::string_view entry) {
  std::vector<pid_t> found;
  if (!ProcIsOurs()) return found;
  std::error_code error;
  for (const auto& dir : std::filesystem::directory_iterator("/proc", error)) {
    pid_t pid;
    if (!absl::SimpleAtoi(dir.path().filename().string(), &pid)) continue;
    if (::getpgid(pid) == group) continue;
    if (HasEnvironmentEntry(pid, entry)) found.push_back(pid);
  }
  return found;
}

// True when process `pid` is gone: reaped here if it was a child of this process
// (a subreaper), or no longer there.
bool ProcessGone(pid_t pid) {
  const pid_t reaped = ::waitpid(pid, nullptr, WNOHANG);
  if (reaped == pid) return true;
  if (reaped == 0) return false;
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Chromium keeps the socket that makes it the only browser on a profile in a
// directory of its own under TMPDIR, linked from the profile as SingletonSocket.
// It removes it when it closes; a browser that was killed leaves it behind.
void RemoveSingletonDirectory(const std::string& profile) {
  std::error_code error;
  const std::filesystem::path socket =
      std::filesystem::read_symlink(profile + "/SingletonSocket", error);
  if (error) return;
  const std::filesystem::path directory = socket.parent_path();
  if (!absl::StartsWith(directory.filename().string(), "org.chromium.Chromium.")) return;
  std::filesystem::remove_all(directory, error);
  if (error) FARM_LOG(WARNING) << "can't remove " << directory << ": " << error.message();
}

std::string ScratchRoot() {
  for (const char* name : {"TEST_TMPDIR", "TMPDIR"}) {
    const char* dir = std::getenv(name);
    if (dir != nullptr && dir[0] != '\0') return dir;
  }
  return "/tmp";
}

}  // namespace

Chromium::Chromium(ChromiumOptions options) : options_(std::move(options)) {}

Chromium::~Chromium() { Shutdown(); }

absl::StatusOr<std::unique_ptr<Chromium>> Chromium::Start(ChromiumOptions options) {
  if (options.width <= 0 || options.height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad Chromium viewport ", options.width, "x", options.height));
  }
  const absl::Time deadline = absl::Now() + options.timeout;
  std::unique_ptr<Chromium> chromium(new Chromium(std::move(options)));
  RETURN_IF_ERROR(chromium->Launch());
  RETURN_IF_ERROR(chromium->AttachToPage(deadline));
  return chromium;
}

absl::Status Chromium::Launch() {
  const char* path_env = std::getenv("PATH");
  absl::StatusOr<std::string> program =
      FindProgram(options_.binary, path_env != nullptr ? path_env : "");
  if (!program.ok()) {
    return absl::Status(program.status().code(),
                        absl::StrCat(program.status().message(),
                                     "; run tools/setup.sh, which installs Debian's chromium"));
  }
  program_ = *program;

  std::string directory = absl::StrCat(ScratchRoot(), "/chromium.XXXXXX");
  if (::mkdtemp(directory.data()) == nullptr) {
    return ErrnoStatus(absl::StrCat("mkdtemp ", directory), errno);
  }
  directory_ = directory;
  const std::string log = absl::StrCat(directory_, "/chromium.log");

  // The browser's helpers outlive it by a moment; as their subreaper this process
  // reaps them at once (see Shutdown) instead of waiting for init to.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    FARM_LOG(WARNING) << "prctl(PR_SET_CHILD_SUBREAPER): " << std::strerror(errno);
  }

  ScopedFd command_read, command_write, event_read, event_write;
  RETURN_IF_ERROR(HighPipe(&command_read, &command_write));
  RETURN_IF_ERROR(HighPipe(&event_read, &event_write));

  std::vector<std::string> argv = {
      program_,
      "--headless=new",
      "--no-sandbox",  // the sandbox refuses to run as root
      "--disable-gpu",
      "--remote-debugging-pipe",
      absl::StrCat("--user-data-dir=", directory_, "/profile"),
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-extensions",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",  // small /dev/shm in containers crashes renderers
      "--hide-scrollbars",
      "--mute-audio",
      absl::StrCat("--window-size=", options_.width, ",", options_.height),
  };
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  // Without a URL the first tab is the New Tab page, which goes to the network.
  argv.push_back("about:blank");
  // Not --disable-crashpad-for-testing, which would keep the crash handlers from
  // starting: without them Debian's Chromium 156 crashes its network service over
  // and over ("FD ownership violation") and never loads a page.

  // HOME (and so the crash database, caches, dconf) is the browser's directory.
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const absl::string_view variable(*entry);
    const absl::string_view name = variable.substr(0, variable.find('='));
    if (name == "HOME" || name == "XDG_CONFIG_HOME" || name == "XDG_CACHE_HOME" ||
        name == "XDG_DATA_HOME" || name == kDirectoryEnv) {
      continue;
    }
    env.push_back(*entry);
  }
  env.push_back(absl::StrCat("HOME=", directory_));
  env.push_back(absl::StrCat(kDirectoryEnv, "=", directory_));

  std::vector<char*> argv_pointers, env_pointers;
  for (std::string& arg : argv) argv_pointers.push_back(arg.data());
  argv_pointers.push_back(nullptr);
  for (std::string& entry : env) env_pointers.push_back(entry.data());
  env_pointers.push_back(nullptr);

  SpawnSettings spawn;
  sigset_t no_signals, default_signals;
  sigemptyset(&no_signals);
  sigemptyset(&default_signals);
  for (int signal : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) {
    sigaddset(&default_signals, signal);
  }
  int error = 0;
  for (int step_error : {
           posix_spawn_file_actions_addopen(&spawn.actions, 0, "/dev/null", O_RDONLY, 0),
           posix_spawn_file_actions_addopen(&spawn.actions, 1, log.c_str(),
                                            O_WRONLY | O_CREAT | O_TRUNC, 0600),
           posix_spawn_file_actions_adddup2(&spawn.actions, 1, 2),
           posix_spawn_file_actions_adddup2(&spawn.actions, command_read.get(), 3),
           posix_spawn_file_actions_adddup2(&spawn.actions, event_write.get(), 4),
           posix_spawn_file_actions_addclosefrom_np(&spawn.actions, 5),
           // Its own process group, so that it and its helpers can be killed together.
           posix_spawnattr_setpgroup(&spawn.attributes, 0),
           posix_spawnattr_setsigmask(&spawn.attributes, &no_signals),
           posix_spawnattr_setsigdefault(&spawn.attributes, &default_signals),
           posix_spawnattr_setflags(&spawn.attributes, POSIX_SPAWN_SETPGROUP |
                                                           POSIX_SPAWN_SETSIGMASK |
                                                           POSIX_SPAWN_SETSIGDEF),
       }) {
    if (error == 0) error = step_error;
  }
  if (error != 0) return ErrnoStatus("posix_spawn settings", error);
  pid_t pid = -1;
  error = ::posix_spawn(&pid, program_.c_str(), &spawn.actions, &spawn.attributes,
                        argv_pointers.data(), env_pointers.data());
  if (error != 0) return ErrnoStatus(absl::StrCat("posix_spawn ", program_), error);
  pid_ = pid;
  command_fd_ = command_write.release();
  event_fd_ = event_read.release();
  RETURN_IF_ERROR(SetNonBlocking(command_fd_));
  return SetNonBlocking(event_fd_);
}

absl::Status Chromium::AttachToPage(absl::Time deadline) {
  ASSIGN_OR_RETURN(const Struct targets,
                   Call("Target.getTargets", Struct(), Target::kBrowser, deadline));
  std::string target_id;
  const Value* infos = Field(targets, "targetInfos");
  if (infos != nullptr) {
    for (const Value& info : infos->list_value().values()) {
      if (StringField(info.struct_value(), "type") == "page") {
        target_id = StringField(info.struct_value(), "targetId");
        break;
      }
    }
  }
  if (target_id.empty()) {
    ASSIGN_OR_RETURN(const Struct created,
                     Call("Target.createTarget", Object({{"url", Str("about:blank")}}),
                          Target::kBrowser, deadline));
    target_id = StringField(created, "targetId");
  }
  ASSIGN_OR_RETURN(
      const Struct attached,
      Call("Target.attachToTarget", Object({{"targetId", Str(target_id)}, {"flatten", Bool(true)}}),
           Target::kBrowser, deadline));
  session_id_ = StringField(attached, "sessionId");
  if (session_id_.empty()) {
    return absl::InternalError("Chromium attached to its page without a sessionId");
  }
  RETURN_IF_ERROR(Call("Page.enable", Struct(), Target::kPage, deadline).status());
  RETURN_IF_ERROR(Call("Page.setLifecycleEventsEnabled", Object({{"enabled", Bool(true)}}),
                       Target::kPage, deadline)
                      .status());
  RETURN_IF_ERROR(Call("Runtime.enable", Struct(), Target::kPage, deadline).status());
  // --window-size sizes the window, whose viewport is smaller by headless Chrome's
  // (invisible) toolbars; the page gets exactly the size asked for.
  return Call("Emulation.setDeviceMetricsOverride",
              Object({{"width", Num(options_.width)},
                      {"height", Num(options_.height)},
                      {"deviceScaleFactor", Num(1)},
                      {"mobile", Bool(false)}}),
              Target::kPage, deadline)
      .status();
}

absl::Status Chromium::Navigate(const std::string& url) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + options_.timeout;
  loaded_.clear();
  ASSIGN_OR_RETURN(const Struct result,
                   Call("Page.navigate", Object({{"url", Str(url)}}), Target::kPage, deadline));
  const std::string error = StringField(result, "errorText");
  if (!error.empty()) {
    return absl::UnavailableError(
        absl::StrCat("Chromium could not load ", Shorten(url), ": ", error));
  }
  // A navigation within the document (a #fragment) has no loader, and no load event.
  const std::string loader = StringField(result, "loaderId");
  if (loader.empty()) return absl::OkStatus();
  const std::string waiting_for = absl::StrCat("the load event of ", Shorten(url));
  while (loaded_.count(loader) == 0) {
    RETURN_IF_ERROR(page_status_);
    ASSIGN_OR_RETURN(const Struct message, NextMessage(waiting_for, start, deadline));
    if (Field(message, "id") == nullptr) HandleEvent(message);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Chromium::Evaluate(const std::string& js) {
  ASSIGN_OR_RETURN(const Struct result, Call("Runtime.evaluate",
                                             Object({{"expression", Str(js)},
                                                     {"returnByValue", Bool(true)},
                                                     {"awaitPromise", Bool(true)}}),
                                             Target::kPage, absl::Now() + options_.timeout));
  if (Field(result, "exceptionDetails") != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(ExceptionText(StructField(result, "exceptionDetails")), " (evaluating `",
                     Shorten(js), "`)"));
  }
  return RemoteObjectText(StructField(result, "result"));
}

absl::Status Chromium::WaitFor(const std::string& js_condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::string> value = Evaluate(js_condition);
    if (value.ok() && *value == "true") return absl::OkStatus();
    RETURN_IF_ERROR(transport_status_);
    RETURN_IF_ERROR(page_status_);
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("`", Shorten(js_condition), "` was not true within ",
                       absl::FormatDuration(timeout), "; it last ",
                       value.ok() ? absl::StrCat("gave \"", Shorten(*value), "\"")
                                  : absl::StrCat("failed: ", value.status().message())));
    }
    absl::SleepFor(std::min(kWaitForInterval, deadline - now));
  }
}

absl::Status Chromium::Screenshot(const std::string& png_path, bool full_page) {
  Struct params = Object({{"format", Str("png")}});
  if (full_page) (*params.mutable_fields())["captureBeyondViewport"] = Bool(true);
  ASSIGN_OR_RETURN(const Struct result, Call("Page.captureScreenshot", params, Target::kPage,
                                             absl::Now() + options_.timeout));
  std::string png;
  if (!absl::Base64Unescape(StringField(result, "data"), &png) || png.empty()) {
    return absl::InternalError("Chromium's screenshot is not base64 data");
  }
  std::ofstream out(png_path, std::ios::binary | std::ios::trunc);
  out.write(png.data(), static_cast<std::streamsize>(png.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("can't write the screenshot to ", png_path));
  return absl::OkStatus();
}

absl::Status Chromium::SetCookie(const std::string& url, const std::string& name,
                                 const std::string& value) {
  ASSIGN_OR_RETURN(const Struct result,
                   Call("Network.setCookie",
                        Object({{"url", Str(url)}, {"name", Str(name)}, {"value", Str(value)}}),
                        Target::kPage, absl::Now() + options_.timeout));
  const Value* success = Field(result, "success");
  if (success != nullptr && !success->bool_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Chromium refused the cookie ", name, " for ", Shorten(url)));
  }
  return absl::OkStatus();
}

std::string Chromium::LogTail() const {
  std::ifstream in(absl::StrCat(directory_, "/chromium.log"), std::ios::binary);
  if (!in) return "(no log)";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - kLogTailBytes);
  in.seekg(start);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  if (start > 0 && !lines.empty()) lines.erase(lines.begin());  // cut in the middle
  // Without a session bus Chromium complains about D-Bus over and over.
  lines.erase(std::remove_if(
                  lines.begin(), lines.end(),
                  [](absl::string_view line) { return absl::StrContains(line, ":ERROR:dbus/"); }),
              lines.end());
  if (lines.size() > kLogTailLines) lines.erase(lines.begin(), lines.end() - kLogTailLines);
  return lines.empty() ? "(empty)" : absl::StrJoin(lines, "\n");
}

absl::StatusOr<Struct> Chromium::Call(absl::string_view method, const Struct& params, Target target,
                                      absl::Time deadline) {
  RETURN_IF_ERROR(transport_status_);
  if (target == Target::kPage) RETURN_IF_ERROR(page_status_);
  const absl::Time start = absl::Now();
  const int id = next_id_++;
  Struct request = Object({{"id", Num(id)}, {"method", Str(method)}, {"params", Obj(params)}});
  if (target == Target::kPage) (*request.mutable_fields())["sessionId"] = Str(session_id_);
  ASSIGN_OR_RETURN(const std::string json, ToJson(request));
  RETURN_IF_ERROR(Send(json, method, deadline));
  const std::string waiting_for = absl::StrCat("the answer to ", method);
  while (true) {
    ASSIGN_OR_RETURN(Struct message, NextMessage(waiting_for, start, deadline));
    const Value* answer_id = Field(message, "id");
    if (answer_id == nullptr) {
      HandleEvent(message);
      if (target == Target::kPage) RETURN_IF_ERROR(page_status_);
      continue;
    }
    if (answer_id->number_value() != id) continue;  // late, for a call that timed out
    if (Field(message, "error") != nullptr) {
      const Struct& error = StructField(message, "error");
      const Value* code = Field(error, "code");
      const int number = code != nullptr ? static_cast<int>(code->number_value()) : 0;
      const std::string data = StringField(error, "data");
      // JSON-RPC's codes for a request Chromium can't make sense of; the others
      // (-32000) are about the state of the browser or page.
      const bool bad_request = number == -32600 || number == -32601 || number == -32602;
      return absl::Status(
          bad_request ? absl::StatusCode::kInvalidArgument : absl::StatusCode::kFailedPrecondition,
          absl::StrCat("Chromium: ", method, " failed: ", StringField(error, "message"),
                       data.empty() ? "" : absl::StrCat(" (", data, ")")));
    }
    Value* result = &(*message.mutable_fields())["result"];
    return std::move(*result->mutable_struct_value());
  }
}

absl::Status Chromium::Send(const std::string& json, absl::string_view method,
                            absl::Time deadline) {
  RETURN_IF_ERROR(transport_status_);
  std::string data = json;
  data.push_back('\0');
  ScopedSigpipeBlock no_sigpipe;
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(command_fd_, data.data() + written, data.size() - written);
    if (n > 0) {
      written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) return BrowserGone(absl::StrCat("sending ", method));
    if (n < 0 && errno != EAGAIN) return ErrnoStatus("writing to Chromium", errno);
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "Chromium did not read ", method, " in time; the end of its log:\n", LogTail()));
    }
    struct pollfd writable = {command_fd_, POLLOUT, 0};
    ::poll(&writable, 1,
           static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000)));
  }
  return absl::OkStatus();
}

absl::StatusOr<Struct> Chromium::NextMessage(absl::string_view waiting_for, absl::Time start,
                                             absl::Time deadline) {
  while (true) {
    const size_t end = read_buffer_.find('\0', scanned_);
    if (end != std::string::npos) {
      Struct message;
      const auto parsed = google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(read_buffer_.data(), end), &message);
      if (!parsed.ok()) {
        FARM_LOG(WARNING) << "skipping a DevTools message that is not JSON (" << parsed.ToString()
                          << "): " << Shorten(read_buffer_.substr(0, end));
      }
      read_buffer_.erase(0, end + 1);
      scanned_ = 0;
      if (parsed.ok()) return message;
      continue;
    }
    scanned_ = read_buffer_.size();
    RETURN_IF_ERROR(transport_status_);

    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "timed out after ", absl::FormatDuration(absl::Now() - start), " waiting for ",
          waiting_for, " from Chromium; the end of its log:\n", LogTail()));
    }
    struct pollfd readable = {event_fd_, POLLIN, 0};
    const int ready =
        ::poll(&readable, 1,
               static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000)));
    if (ready < 0 && errno != EINTR) return ErrnoStatus("poll", errno);
    if (ready <= 0) continue;
    char chunk[64 * 1024];
    const ssize_t n = ::read(event_fd_, chunk, sizeof(chunk));
    if (n > 0) {
      read_buffer_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      return BrowserGone(absl::StrCat("waiting for ", waiting_for));
    } else if (errno != EINTR && errno != EAGAIN) {
      transport_status_ = ErrnoStatus("reading from Chromium", errno);
      return transport_status_;
    }
  }
}

void Chromium::HandleEvent(const Struct& event) {
  const std::string method = StringField(event, "method");
  const Struct& params = StructField(event, "params");
  if (session_id_.empty()) return;
  if (method == "Target.detachedFromTarget" && StringField(params, "sessionId") == session_id_) {
    page_status_ = absl::UnavailableError("Chromium closed the page");
    return;
  }
  if (StringField(event, "sessionId") != session_id_) return;
  if (method == "Page.lifecycleEvent") {
    if (StringField(params, "name") == "load") loaded_.insert(StringField(params, "loaderId"));
  } else if (method == "Inspector.targetCrashed") {
    page_status_ = absl::UnavailableError(
        absl::StrCat("the page crashed; the end of Chromium's log:\n", LogTail()));
  } else if (method == "Inspector.detached") {
    page_status_ = absl::UnavailableError(
        absl::StrCat("Chromium detached from the page: ", StringField(params, "reason")));
  } else if (method == "Runtime.exceptionThrown") {
    page_errors_.push_back(ExceptionText(StructField(params, "exceptionDetails")));
  } else if (method == "Runtime.consoleAPICalled" && StringField(params, "type") == "error") {
    std::vector<std::string> args;
    const Value* values = Field(params, "args");
    if (values != nullptr) {
      for (const Value& arg : values->list_value().values()) {
        args.push_back(RemoteObjectText(arg.struct_value()));
      }
    }
    page_errors_.push_back(absl::StrCat("console.error: ", absl::StrJoin(args, " ")));
  }
}

absl::Status Chromium::BrowserGone(absl::string_view while_doing) {
  if (!transport_status_.ok()) return transport_status_;
  // The pipe closes as the browser exits; its exit status says more than the pipe.
  const absl::Time until = absl::Now() + kExitStatusWait;
  while (!ReapBrowser() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  transport_status_ = absl::UnavailableError(
      absl::StrCat("Chromium (", program_, ") ",
                   reaped_ ? DescribeWaitStatus(wait_status_) : "closed its DevTools pipe",
                   " while ", while_doing, "; the end of its log:\n", LogTail()));
  return transport_status_;
}

bool Chromium::ReapBrowser() {
  if (reaped_) return true;
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_ || (reaped < 0 && errno == ECHILD)) {
    reaped_ = true;
    wait_status_ = status;
  }
  return reaped_;
}

void Chromium::Shutdown() {
  if (pid_ > 0) {
    // The crash handlers left the process group; found now, while they still run.
    std::vector<pid_t> crash_handlers =
        MarkedProcessesOutside(pid_, absl::StrCat(kDirectoryEnv, "=", directory_));

    // Asked to close, or told by its command pipe closing, the browser exits.
    if (transport_status_.ok() && !reaped_) {
      absl::StatusOr<std::string> json =
          ToJson(Object({{"id", Num(next_id_++)}, {"method", Str("Browser.close")}}));
      if (json.ok()) Send(*json, "Browser.close", absl::Now() + absl::Seconds(1)).IgnoreError();
    }
    CloseFd(&command_fd_);
    // What it still writes is drained, so that it never blocks on a full pipe.
    const absl::Time close_deadline = absl::Now() + kCloseLimit;
    while (!ReapBrowser() && absl::Now() < close_deadline) {
      if (event_fd_ < 0) {
        absl::SleepFor(absl::Milliseconds(10));
        continue;
      }
      struct pollfd readable = {event_fd_, POLLIN, 0};
      if (::poll(&readable, 1, 10) > 0) {
        char chunk[64 * 1024];
        if (::read(event_fd_, chunk, sizeof(chunk)) == 0) CloseFd(&event_fd_);
      }
    }
    if (!reaped_) {
      FARM_LOG(WARNING) << "Chromium (pid " << pid_ << ") did not close within "
                        << absl::FormatDuration(kCloseLimit) << "; killing its process group";
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, &wait_status_, 0) < 0 && errno == EINTR) {
      }
      reaped_ = true;
    }

    // Its helpers follow it out. Those it orphaned are this process's children
    // (PR_SET_CHILD_SUBREAPER), reaped here; none may remain in its process group.
    const absl::Time start = absl::Now();
    bool killed = false;
    while (true) {
      while (::waitpid(-pid_, nullptr, WNOHANG) > 0) {
      }
      crash_handlers.erase(
          std::remove_if(crash_handlers.begin(), crash_handlers.end(), ProcessGone),
          crash_handlers.end());
      const bool group_gone = ::kill(-pid_, 0) != 0 && errno == ESRCH;
      if (group_gone && crash_handlers.empty()) break;
      const absl::Duration waited = absl::Now() - start;
      if (!killed && waited > kHelperExitLimit) {
        FARM_LOG(WARNING) << "Chromium's helpers (process group " << pid_ << ") still run "
                          << absl::FormatDuration(waited) << " after it exited; killing them";
        ::kill(-pid_, SIGKILL);
        for (pid_t handler : crash_handlers) {
          if (HasEnvironmentEntry(handler, absl::StrCat(kDirectoryEnv, "=", directory_))) {
            ::kill(handler, SIGKILL);
          }
        }
        killed = true;
      }
      if (waited > 2 * kHelperExitLimit) {
        FARM_LOG(WARNING) << "processes of Chromium (process group " << pid_
                          << ") remain after SIGKILL";
        break;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  CloseFd(&command_fd_);
  CloseFd(&event_fd_);
  if (!directory_.empty()) {
    RemoveSingletonDirectory(directory_ + "/profile");
    std::error_code error;
    std::filesystem::remove_all(directory_, error);
    if (error) FARM_LOG(WARNING) << "can't remove " << directory_ << ": " << error.message();
  }
}

}  // namespace kvmfarm::dashboard::testing
