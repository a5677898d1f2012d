// -----------------------------------------------------------------------------
// File: logging.h
// -----------------------------------------------------------------------------
//
// kvmfarm's small logging facility (abseil 20220623 has no absl/log). Libraries log
// through FARM_LOG, never std::cout; binaries may lower or raise the threshold.
// Each message is written to stderr with one write(2), so lines from concurrent
// threads and from child processes sharing the stream never interleave mid-line.
//
// Example:
//
//   FARM_LOG(INFO) << "listening on " << address;
//   FARM_LOG(WARNING) << "dmesg unreadable: " << status;
//
// Format: "I20261124 13:33:35.123456 agent/main.cc:42] listening on 127.0.0.1:7420"
#ifndef KVMFARM_COMMON_LOGGING_H_
#define KVMFARM_COMMON_LOGGING_H_

#include <functional>
#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace kvmfarm {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below `level` are dropped. Default: kInfo.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

// Where formatted lines go (each without the trailing newline). nullptr restores
// stderr. For tests that assert what was logged, and for binaries that log to a file.
using LogSink = std::function<void(LogLevel level, absl::string_view line)>;
void SetLogSink(LogSink sink);

namespace logging_internal {

bool ShouldLog(LogLevel level);

// Collects one message and emits it when destroyed.
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;

  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Lets the FARM_LOG macro be an expression of type void in both branches.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace logging_internal
}  // namespace kvmfarm

#define KVMFARM_LOG_LEVEL_DEBUG ::kvmfarm::LogLevel::kDebug
#define KVMFARM_LOG_LEVEL_INFO ::kvmfarm::LogLevel::kInfo
#define KVMFARM_LOG_LEVEL_WARNING ::kvmfarm::LogLevel::kWarning
#define KVMFARM_LOG_LEVEL_ERROR ::kvmfarm::LogLevel::kError

// FARM_LOG(DEBUG|INFO|WARNING|ERROR) << ...; the stream is not evaluated when the
// level is below the threshold.
#define FARM_LOG(severity)                                                                  \
  !::kvmfarm::logging_internal::ShouldLog(KVMFARM_LOG_LEVEL_##severity)                     \
      ? (void)0                                                                             \
      : ::kvmfarm::logging_internal::Voidify() &                                            \
            ::kvmfarm::logging_internal::LogMessage(KVMFARM_LOG_LEVEL_##severity, __FILE__, \
                                                    __LINE__)                               \
                .stream()

#endif  // KVMFARM_COMMON_LOGGING_H_
