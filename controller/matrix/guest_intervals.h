// -----------------------------------------------------------------------------
// File: guest_intervals.h
// -----------------------------------------------------------------------------
//
// The matrix's 95 % intervals (issue 20), computed once when a result is stored,
// not at every query: each KVM or TCG figure of a benchmark result gets bootstrap
// intervals (common/statistics, fixed seed) of its percentage of native and of the
// KVM/TCG speed-up, against the device's native figure and its other guest mode's
// (from the same result when it has them, else the device's latest stored ones).
// Each interval names the task of the figure it was computed against, so the
// matrix uses it only while that figure is still the cell's.
//
// Example:
//
//   ASSIGN_OR_RETURN(auto latest, store.LatestSummaries({task.device_id()}));
//   AttachGuestIntervals(latest, task.task_id(), task.mutable_benchmark());
#ifndef KVMFARM_CONTROLLER_MATRIX_GUEST_INTERVALS_H_
#define KVMFARM_CONTROLLER_MATRIX_GUEST_INTERVALS_H_

#include <optional>
#include <string>
#include <vector>

#include "controller/store/store.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::matrix {

// `result` is task `task_id`'s; `latest` the device's latest summaries.
void AttachGuestIntervals(const std::vector<store::StoredSummary>& latest,
                          const std::string& task_id, farm::v1::BenchmarkResult* result);

// The 95 % interval of "how many times better `a` is than `b`" (a/b, or b/a for
// a figure where lower is better) from their repetitions; nullopt when either has
// fewer than two.
std::optional<farm::v1::Interval> BetterRatioInterval(const farm::v1::Measurement& a,
                                                      const farm::v1::Measurement& b);

}  // namespace kvmfarm::matrix

#endif  // KVMFARM_CONTROLLER_MATRIX_GUEST_INTERVALS_H_
