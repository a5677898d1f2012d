#include "common/testing/server_process.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace kvmfarm::testing {

ServerProcess::ServerProcess(const std::string& binary, const std::string& name,
                             const std::vector<std::string>& args)
    : ServerProcess(std::vector<std::string>{binary}, name, args) {}

ServerProcess::ServerProcess(const std::vector<std::string>& command, const std::string& name,
                             const std::vector<std::string>& args)
    : marker_(name + " serving on ") {
  ProcessSpec spec;
  spec.argv = command;
  spec.argv.insert(spec.argv.end(), {"--listen", "127.0.0.1:0"});
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = absl::Seconds(300);
  spec.on_stderr_line = [this](absl::string_view line) {
    absl::MutexLock lock(&mu_);
    absl::StrAppend(&log_, line, "\n");
    const size_t at = line.find(marker_);
    if (at == absl::string_view::npos || listening_.HasBeenNotified()) return;
    absl::string_view rest = line.substr(at + marker_.size());
    address_ = std::string(rest.substr(0, rest.find(' ')));
    listening_.Notify();
  };
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spec);
  EXPECT_TRUE(process.ok()) << process.status();
  if (process.ok()) process_ = *std::move(process);
}

std::string ServerProcess::WaitUntilListening() {
  if (!process_) return "";
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (!listening_.WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    if (process_->WaitFor(absl::ZeroDuration())) {
      ADD_FAILURE() << marker_ << "... never came; it exited: " << process_->Wait().stderr_data;
      return "";
    }
    if (absl::Now() > give_up) {
      ADD_FAILURE() << "no '" << marker_ << "' within a minute";
      return "";
    }
  }
  absl::MutexLock lock(&mu_);
  return address_;
}

std::string ServerProcess::Log() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

int ServerProcess::HttpPort() const {
  const std::string log = Log();
  const size_t line = log.find("HTTP on http");
  if (line == std::string::npos) return 0;
  size_t host = log.find("://", line);
  if (host == std::string::npos) return 0;
  host += 3;
  // The port follows the host's last ':' ("127.0.0.1:7480", "[::1]:7480").
  const size_t colon = log[host] == '[' ? log.find("]:", host) + 1 : log.find(':', host);
  if (colon == std::string::npos || colon == 0) return 0;
  return std::atoi(log.c_str() + colon + 1);  // stops at the port's end
}

}  // namespace kvmfarm::testing
