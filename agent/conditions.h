// -----------------------------------------------------------------------------
// File: conditions.h
// -----------------------------------------------------------------------------
//
// What a device must be like before it measures (MeasurementConditions, issue 21):
// on battery power a sweep may require charging or a minimum level, and a
// cool-down before each native repetition waits, bounded, until the hottest
// thermal zone is back within N °C of the job's start. A device that can't tell
// (no battery, no thermal zones) meets the condition and the result says why.
//
// Example:
//
//   RETURN_IF_ERROR(CheckBattery(ReadEnvironment(sysroot, {}), conditions));
//   CoolDown waited = WaitToCoolDown(sysroot, start, conditions, clock, sleep_until);
#ifndef KVMFARM_AGENT_CONDITIONS_H_
#define KVMFARM_AGENT_CONDITIONS_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/probe/sysroot.h"
#include "common/clock.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

inline constexpr absl::Duration kDefaultCoolDownMaxWait = absl::Minutes(2);

// FAILED_PRECONDITION saying what is not met ("battery at 35 %, below the 50 % the
// sweep requires"); OK when met, or when the device has no battery (`note` then
// says so).
absl::Status CheckBattery(const farm::v1::EnvironmentSample& now,
                          const farm::v1::MeasurementConditions& conditions, std::string* note);

// The hottest thermal zone of a sample, in m°C; none without zones.
std::optional<int32_t> HottestMillicelsius(const farm::v1::EnvironmentSample& sample);

struct CoolDown {
  bool cooled = false;
  absl::Duration waited;
  // What happened, for the result's notes ("" when no wait was needed).
  std::string note;
};

// Waits, polling every second through `sleep_until` (false when the job was
// stopped), until the hottest zone is within conditions.cool_down_within_celsius
// of `start_millicelsius`, or the maximum wait has passed.
CoolDown WaitToCoolDown(const probe::Sysroot& sysroot, int32_t start_millicelsius,
                        const farm::v1::MeasurementConditions& conditions, const Clock& clock,
                        const std::function<bool(absl::Time)>& sleep_until);

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_CONDITIONS_H_
