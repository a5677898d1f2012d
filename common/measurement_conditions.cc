#include "common/measurement_conditions.h"

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"

namespace kvmfarm {

absl::Status ValidateMeasurementConditions(const farm::v1::MeasurementConditions& conditions,
                                           absl::string_view field) {
  if (conditions.min_battery_percent() > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".min_battery_percent ", conditions.min_battery_percent(), " is more than 100"));
  }
  if (conditions.cool_down_within_celsius() > kMaxCoolDownCelsius) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".cool_down_within_celsius ",
                                                   conditions.cool_down_within_celsius(),
                                                   " is more than ", kMaxCoolDownCelsius));
  }
  if (conditions.has_cool_down_max_wait()) {
    const absl::StatusOr<absl::Duration> wait =
        CheckedDuration(conditions.cool_down_max_wait(), absl::StrCat(field, ".cool_down_max_wait"),
                        kMaxCoolDownWait);
    if (!wait.ok()) return wait.status();
  }
  return absl::OkStatus();
}

}  // namespace kvmfarm
