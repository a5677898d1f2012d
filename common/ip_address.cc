#include "common/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kvmfarm {

bool SplitHostPort(absl::string_view address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  *host = std::string(address.substr(0, colon));
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port >= 0 && *port <= 65535;
}

bool IsLoopbackAddress(absl::string_view address) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port)) return false;
  if (host == "localhost" || host == "[::1]") return true;
  in_addr v4;
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
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

absl::Status CheckDialAddress(absl::string_view field, absl::string_view address) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(address, &host, &port) || port == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " '", address, "' is not host:port with a port 1..65535 (e.g. 10.0.0.7:7420)"));
  }
  if (CheckIpEndpoint(field, address).ok()) return absl::OkStatus();
  const bool dns_name =
      !host.empty() && host.size() <= 253 && host.front() != '-' && host.front() != '.' &&
      std::all_of(host.begin(), host.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
      });
  if (!dns_name) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " '", address, "': the host must be an IP address or a DNS name"));
  }
  return absl::OkStatus();
}

}  // namespace kvmfarm
