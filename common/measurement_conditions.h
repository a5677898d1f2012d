// -----------------------------------------------------------------------------
// File: measurement_conditions.h
// -----------------------------------------------------------------------------
//
// The bounds of MeasurementConditions (issue 21), checked where a request comes in:
// by the controller for a sweep's spec and by the agent for a benchmark request.
//
// Example:
//
//   RETURN_IF_ERROR(ValidateMeasurementConditions(spec.conditions(), "spec.conditions"));
#ifndef KVMFARM_COMMON_MEASUREMENT_CONDITIONS_H_
#define KVMFARM_COMMON_MEASUREMENT_CONDITIONS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

inline constexpr uint32_t kMaxCoolDownCelsius = 50;
inline constexpr absl::Duration kMaxCoolDownWait = absl::Hours(1);

// INVALID_ARGUMENT naming `field`.<name> and its bounds: min_battery_percent at most
// 100, cool_down_within_celsius at most 50, cool_down_max_wait positive and at most
// 1 h when given.
absl::Status ValidateMeasurementConditions(const farm::v1::MeasurementConditions& conditions,
                                           absl::string_view field);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_MEASUREMENT_CONDITIONS_H_
