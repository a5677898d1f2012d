// -----------------------------------------------------------------------------
// File: hmac.h
// -----------------------------------------------------------------------------
//
// HMAC-SHA256 (OpenSSL's), as lower-case hex: the dashboard signs its session
// cookies with it, the controller its webhook bodies.
//
// Example:
//
//   const std::string signature = HmacSha256Hex(secret, body);
#ifndef KVMFARM_COMMON_TLS_HMAC_H_
#define KVMFARM_COMMON_TLS_HMAC_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kvmfarm {

std::string HmacSha256Hex(absl::string_view key, absl::string_view text);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_TLS_HMAC_H_
