#include "common/ip_address.h"

#include <arpa/inet.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kvmfarm {

bool SplitHostPort(absl::string_view address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  *host = std::string(address.substr(0, colon));
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port >= 0 && *port <= 65535;
}

absl::Status CheckIpEndpoint(absl::string_view flag, absl::string_view address) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", address, "' is not host:port (e.g. 127.0.0.1:7420)"));
  }
  unsigned char bytes[16];
  const bool v6 = host.size() > 2 && host.front() == '[' && host.back() == ']';
  const bool ip = v6 ? inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), bytes) == 1
                     : inet_pton(AF_INET, host.c_str(), bytes) == 1;
  if (!ip) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", address, "': give an IP address (127.0.0.1, [::1]), not a ",
                     "host name: the agent has no name service on a phone"));
  }
  return absl::OkStatus();
}

}  // namespace kvmfarm
