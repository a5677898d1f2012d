#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kvmfarm {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

absl::Mutex g_sink_mu;
LogSink* g_sink ABSL_GUARDED_BY(g_sink_mu) = nullptr;

char LevelLetter(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 'D';
    case LogLevel::kInfo:
      return 'I';
    case LogLevel::kWarning:
      return 'W';
    case LogLevel::kError:
      return 'E';
  }
  return '?';
}

// Writes all of `data` to stderr, retrying short writes and EINTR.
void WriteToStderr(absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // Nowhere left to report a failing stderr.
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Keeps the path from the repository root: "agent/main.cc", not the sandbox path.
absl::string_view ShortFileName(absl::string_view file) {
  for (absl::string_view root :
       {"agent/", "common/", "controller/", "tools/", "workloads/", "tests/", "guest_images/"}) {
    const size_t pos = file.rfind(root);
    if (pos != absl::string_view::npos) return file.substr(pos);
  }
  const size_t slash = file.rfind('/');
  return slash == absl::string_view::npos ? file : file.substr(slash + 1);
}

}  // namespace

void SetMinLogLevel(LogLevel level) {
  g_min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel MinLogLevel() {
  return static_cast<LogLevel>(g_min_level.load(std::memory_order_relaxed));
}

void SetLogSink(LogSink sink) {
  absl::MutexLock lock(&g_sink_mu);
  delete g_sink;
  g_sink = sink ? new LogSink(std::move(sink)) : nullptr;
}

namespace logging_internal {

bool ShouldLog(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

LogMessage::LogMessage(LogLevel level, const char* file, int line) : level_(level) {
  stream_ << LevelLetter(level)
          << absl::FormatTime("%Y%m%d %H:%M:%E6S", absl::Now(), absl::LocalTimeZone()) << ' '
          << ShortFileName(file) << ':' << line << "] ";
}

LogMessage::~LogMessage() {
  const std::string text = stream_.str();
  {
    absl::MutexLock lock(&g_sink_mu);
    if (g_sink != nullptr) {
      (*g_sink)(level_, text);
      return;
    }
  }
  WriteToStderr(absl::StrCat(text, "\n"));
}

}  // namespace logging_internal
}  // namespace kvmfarm
