#include "agent/vm/qmp.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"

namespace kvmfarm::vm {

absl::StatusOr<std::unique_ptr<QmpClient>> QmpClient::Connect(const std::string& socket_path,
                                                              absl::Duration timeout) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("QMP socket path is longer than ", sizeof(addr.sun_path) - 1, " bytes"));
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      std::unique_ptr<QmpClient> client(new QmpClient(fd));
      RETURN_IF_ERROR(client->ReadLine(deadline).status());
      RETURN_IF_ERROR(client->Execute("qmp_capabilities", deadline - absl::Now()).status());
      return client;
    }
    const int err = errno;
    close(fd);
    // QEMU creates the socket as it starts; until then there is nothing to reach.
    if ((err != ENOENT && err != ECONNREFUSED) || absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat("cannot reach QMP at ", socket_path, ": ", std::strerror(err)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

QmpClient::~QmpClient() { close(fd_); }

absl::StatusOr<std::string> QmpClient::ReadLine(absl::Time deadline) {
  while (true) {
    const size_t newline = buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) return absl::DeadlineExceededError("QMP did not answer in time");
    pollfd pfd = {fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno != EINTR) return absl::InternalError("poll on QMP failed");
    if (ready <= 0) continue;
    char chunk[4096];
    const ssize_t n = read(fd_, chunk, sizeof(chunk));
    if (n == 0) return absl::UnavailableError("QEMU closed the QMP socket");
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("read QMP: ", std::strerror(errno)));
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::string> QmpClient::Execute(const std::string& command, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string request = absl::StrCat("{\"execute\": \"", command, "\"}\n");
  if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return absl::UnavailableError(absl::StrCat("QMP write failed: ", std::strerror(errno)));
  }
  while (true) {
    ASSIGN_OR_RETURN(const std::string line, ReadLine(deadline));
    if (absl::StrContains(line, "\"return\"")) return line;
    if (absl::StrContains(line, "\"error\"")) {
      return absl::InternalError(absl::StrCat("QMP ", command, ": ", line));
    }
    // Anything else is an asynchronous event ({"event": "STOP"}); skip it.
  }
}

}  // namespace kvmfarm::vm
