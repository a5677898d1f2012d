// -----------------------------------------------------------------------------
// File: device_id.h
// -----------------------------------------------------------------------------
//
// What a device id may be. The id names a device everywhere: in the database, in
// labels and selectors, in farmctl's tables, in file names, and (with mutual TLS)
// in the URI SAN of the device's certificate (spiffe://LAB/device/ID). So it is
// kept to characters that mean the same in all of them: 1 to 128 letters, digits,
// '.', '_' and '-', starting with a letter or a digit. Android serial numbers,
// host names and the fixtures' ids all fit.
//
// Example:
//
//   RETURN_IF_ERROR(CheckDeviceId(request.identity().device_id(), "identity.device_id"));
#ifndef KVMFARM_COMMON_DEVICE_ID_H_
#define KVMFARM_COMMON_DEVICE_ID_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kvmfarm {

inline constexpr size_t kMaxDeviceIdLength = 128;

// OK for a valid device id; INVALID_ARGUMENT naming `field` and the rule otherwise.
absl::Status CheckDeviceId(absl::string_view id, absl::string_view field);

// A valid device id made from what a device calls itself (a serial number, a host
// name such as "(none)"): each character outside the rule becomes '-', leading
// ones are dropped, and it is cut to the length allowed; "" when nothing is left.
std::string DeviceIdFrom(absl::string_view name);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_DEVICE_ID_H_
