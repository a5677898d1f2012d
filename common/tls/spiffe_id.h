// -----------------------------------------------------------------------------
// File: tls/spiffe_id.h
// -----------------------------------------------------------------------------
//
// Who a certificate of a kvmfarm lab says its holder is: the URI SAN
// spiffe://LAB/KIND/NAME that tools/pki/pki.sh writes, KIND one of controller,
// device or operator. Agents sit behind `adb forward` at 127.0.0.1:N, where a host
// name proves nothing, so identities are these URIs, never host names.
//
// Example:
//
//   ASSIGN_OR_RETURN(SpiffeId id, ParseSpiffeId("spiffe://lab1/device/pixel-7"));
//   id.kind == SpiffeId::Kind::kDevice && id.name == "pixel-7"
#ifndef KVMFARM_COMMON_TLS_SPIFFE_ID_H_
#define KVMFARM_COMMON_TLS_SPIFFE_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm {

struct SpiffeId {
  enum class Kind { kController, kDevice, kOperator };
  std::string lab;
  Kind kind = Kind::kOperator;
  std::string name;

  // "spiffe://LAB/KIND/NAME".
  std::string ToString() const;
  bool operator==(const SpiffeId& other) const {
    return lab == other.lab && kind == other.kind && name == other.name;
  }
};

// "controller", "device", "operator".
absl::string_view KindName(SpiffeId::Kind kind);

// The identity in `uri`; INVALID_ARGUMENT unless it is spiffe://LAB/KIND/NAME with
// LAB and NAME following the device id rule (common/device_id.h) and KIND one of
// the three.
absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_TLS_SPIFFE_ID_H_
