#include "agent/conditions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/environment.h"
#include "agent/throttling.h"
#include "common/proto_time.h"

namespace kvmfarm {

absl::Status CheckBattery(const farm::v1::EnvironmentSample& now,
                          const farm::v1::MeasurementConditions& conditions, std::string* note) {
  if (!conditions.require_charging() && conditions.min_battery_percent() == 0) {
    return absl::OkStatus();
  }
  const farm::v1::BatteryState& battery = now.battery();
  if (!now.has_battery() || (battery.status().empty() && !battery.has_capacity_percent())) {
    *note = "no battery exposed: mains powered, the battery conditions are met";
    return absl::OkStatus();
  }
  if (conditions.require_charging() && battery.status() != "Charging" &&
      battery.status() != "Full") {
    return absl::FailedPreconditionError(
        absl::StrCat("battery ", battery.status().empty() ? "state unknown" : battery.status(),
                     ": the sweep requires charging"));
  }
  if (conditions.min_battery_percent() > 0 &&
      (!battery.has_capacity_percent() ||
       battery.capacity_percent() < static_cast<int32_t>(conditions.min_battery_percent()))) {
    return absl::FailedPreconditionError(
        absl::StrCat("battery at ",
                     battery.has_capacity_percent() ? absl::StrCat(battery.capacity_percent(), " %")
                                                    : "an unknown level",
                     ", below the ", conditions.min_battery_percent(), " % the sweep requires"));
  }
  return absl::OkStatus();
}

std::optional<int32_t> HottestMillicelsius(const farm::v1::EnvironmentSample& sample) {
  std::optional<int32_t> hottest;
  for (const auto& [zone, temp] : sample.thermal_millicelsius()) {
    if (!hottest || temp > *hottest) hottest = temp;
  }
  return hottest;
}

CoolDown WaitToCoolDown(const probe::Sysroot& sysroot, int32_t start_millicelsius,
                        const farm::v1::MeasurementConditions& conditions, const Clock& clock,
                        const std::function<bool(absl::Time)>& sleep_until) {
  CoolDown result;
  const int32_t bound =
      start_millicelsius + static_cast<int32_t>(conditions.cool_down_within_celsius()) * 1000;
  const absl::Duration max_wait = conditions.has_cool_down_max_wait()
                                      ? FromProtoDuration(conditions.cool_down_max_wait())
                                      : kDefaultCoolDownMaxWait;
  const absl::Time from = clock.Now();
  std::optional<int32_t> hottest;
  while (true) {
    hottest = HottestMillicelsius(ReadEnvironment(sysroot, absl::ZeroDuration()));
    result.waited = clock.Now() - from;
    if (!hottest || *hottest <= bound) {
      result.cooled = true;
      break;
    }
    if (result.waited >= max_wait ||
        !sleep_until(std::min(clock.Now() + absl::Seconds(1), from + max_wait))) {
      break;
    }
  }
  if (!hottest) {
    result.note = "no thermal zone exposed: cool-down not possible";
  } else if (!result.cooled) {
    result.note = absl::StrCat("did not cool down: ", CelsiusText(*hottest), " after ",
                               absl::FormatDuration(result.waited), " (start ",
                               CelsiusText(start_millicelsius), ", within ",
                               conditions.cool_down_within_celsius(), " °C asked)");
  } else if (result.waited > absl::ZeroDuration()) {
    result.note = absl::StrCat("cooled down to ", CelsiusText(*hottest), " in ",
                               absl::FormatDuration(absl::Trunc(result.waited, absl::Seconds(1))));
  }
  return result;
}

}  // namespace kvmfarm
