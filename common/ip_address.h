// -----------------------------------------------------------------------------
// File: ip_address.h
// -----------------------------------------------------------------------------
//
// "host:port" addresses as kvmfarm's flags take them. The agent insists on IP
// literals: its static build has no name service (static glibc can't load NSS
// modules, and Android has none to load), so a host name would resolve on a Linux
// test host and then fail on the phone. Better to say so at start.
//
// Example:
//
//   RETURN_IF_ERROR(CheckIpEndpoint("--controller", "127.0.0.1:7421"));  // OK
//   CheckIpEndpoint("--controller", "lab-ctl:7421");  // INVALID_ARGUMENT, says why
#ifndef KVMFARM_COMMON_IP_ADDRESS_H_
#define KVMFARM_COMMON_IP_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kvmfarm {

// Splits "host:port" or "[v6]:port" (port 0..65535); false when malformed.
bool SplitHostPort(absl::string_view address, std::string* host, int* port);

// True for an IPv4 literal in 127.0.0.0/8, [::1] and "localhost" as the host of
// "host:port" ("127.example.com" is a name, not loopback).
bool IsLoopbackAddress(absl::string_view address);

// OK when `address` is host:port with an IPv4 literal or a bracketed IPv6 literal
// as host; INVALID_ARGUMENT naming `flag` otherwise.
absl::Status CheckIpEndpoint(absl::string_view flag, absl::string_view address);

// OK when `address` is something the controller may dial: host:port with a port
// 1..65535 and as host an IP literal or a DNS name (letters, digits, '-', '.';
// at most 253 characters). Anything else, gRPC's own target schemes included
// ("unix:/run/x.sock", "dns:///h:1"), is INVALID_ARGUMENT naming `field`: a
// registering client must not make the controller dial where it likes.
absl::Status CheckDialAddress(absl::string_view field, absl::string_view address);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_IP_ADDRESS_H_
