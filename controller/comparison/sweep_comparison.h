// -----------------------------------------------------------------------------
// File: sweep_comparison.h
// -----------------------------------------------------------------------------
//
// Two sweeps side by side (CompareSweeps), from the store's per-task summaries and
// capability results:
//  * per device, metric, mode and parameters, the change of the median from sweep a
//    to sweep b, labelled regression / improved / unchanged (within the threshold)
//    / new / missing, regressions first;
//  * per device, the capability verdict's change (a kernel update that breaks KVM
//    is a verdict regression).
//
// Example:
//
//   ASSIGN_OR_RETURN(SweepComparison comparison,
//                    CompareStoredSweeps(*store, "sweep-a", "sweep-b", absl::nullopt));
//   for (const farm::v1::MetricChange& c : comparison.changes) ...
#ifndef KVMFARM_CONTROLLER_COMPARISON_SWEEP_COMPARISON_H_
#define KVMFARM_CONTROLLER_COMPARISON_SWEEP_COMPARISON_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::comparison {

// A change smaller than this (in percent of sweep a's median) is UNCHANGED unless
// the caller says otherwise.
constexpr double kDefaultThresholdPercent = 5.0;

struct SweepComparison {
  std::vector<farm::v1::MetricChange> changes;
  std::vector<farm::v1::VerdictChange> verdict_changes;
};

// Both sweeps read from `store` and compared. INVALID_ARGUMENT for an empty id
// ("sweep_a is required") or a negative threshold; a sweep the store can't read
// fails with the store's code, the message naming the field ("sweep_b: no sweep
// 'x'"). `threshold_percent` absent: kDefaultThresholdPercent.
absl::StatusOr<SweepComparison> CompareStoredSweeps(store::Store& store, const std::string& sweep_a,
                                                    const std::string& sweep_b,
                                                    absl::optional<double> threshold_percent);

// Regressions first. `threshold_percent`: a smaller change is UNCHANGED.
std::vector<farm::v1::MetricChange> CompareSummaries(const std::vector<store::StoredSummary>& a,
                                                     const std::vector<store::StoredSummary>& b,
                                                     double threshold_percent);

// Verdicts per device in two sweeps' capability results.
std::vector<farm::v1::VerdictChange> CompareVerdicts(
    const std::map<std::string, farm::v1::Verdict>& a,
    const std::map<std::string, farm::v1::Verdict>& b);

}  // namespace kvmfarm::comparison

#endif  // KVMFARM_CONTROLLER_COMPARISON_SWEEP_COMPARISON_H_
