// -----------------------------------------------------------------------------
// File: measurement.h
// -----------------------------------------------------------------------------
//
// Summaries of repeated figures, the one way every part computes them: median,
// minimum and maximum of a farm.v1.Measurement's values. No values, no summary:
// a figure that was not measured stays absent. And the canonical form of a
// measurement's parameters, which says whether two figures measured the same thing,
// and the name a metric is shown under.
#ifndef KVMFARM_COMMON_MEASUREMENT_H_
#define KVMFARM_COMMON_MEASUREMENT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

// The median (mean of the middle two for an even count); absent for no values.
absl::optional<double> Median(std::vector<double> values);

// Sets median/min/max from values(), or clears them when there are none.
void Summarize(farm::v1::Measurement* measurement);

// The parameter an in-guest figure carries when the guest's architecture is not
// its host's ("arm64": an arm64 guest under TCG on an x86-64 host). Such a figure
// is not the same measurement as a same-architecture guest's and keeps apart from
// it; its percentage of native is still against the host's native figure.
inline constexpr char kGuestArchParameter[] = "guest_arch";

// A matrix ratio as people read it, "91.0%" or "9.0x" (`unit`), followed by its
// 95 % interval when it has one: "91.0% [89.2-92.8]". Every table shows them so.
std::string RatioText(double value, const farm::v1::Interval* interval, absl::string_view unit);

// A metric as people read it: "crypto.sha256", or "crypto.sha256 (arm64 guest)"
// for figures of a guest of another architecture than its host. Every table and
// chart names metrics this way (farmctl's formats, the report, the dashboard).
std::string MetricLabel(absl::string_view metric,
                        const google::protobuf::Map<std::string, std::string>& parameters);

// "key=value,key=value", sorted by key, leaving out the parameter `without`.
std::string ParametersKey(const google::protobuf::Map<std::string, std::string>& parameters,
                          absl::string_view without = "");

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_MEASUREMENT_H_
