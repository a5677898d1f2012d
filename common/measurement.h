// -----------------------------------------------------------------------------
// File: measurement.h
// -----------------------------------------------------------------------------
//
// Summaries of repeated figures, the one way every part computes them: median,
// minimum and maximum of a farm.v1.Measurement's values. No values, no summary:
// a figure that was not measured stays absent.
#ifndef KVMFARM_COMMON_MEASUREMENT_H_
#define KVMFARM_COMMON_MEASUREMENT_H_

#include <vector>

#include "absl/types/optional.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

// The median (mean of the middle two for an even count); absent for no values.
absl::optional<double> Median(std::vector<double> values);

// Sets median/min/max from values(), or clears them when there are none.
void Summarize(farm::v1::Measurement* measurement);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_MEASUREMENT_H_
