// -----------------------------------------------------------------------------
// File: sweep_comparison.h
// -----------------------------------------------------------------------------
//
// Two sweeps side by side (CompareSweeps), from the store's per-task summaries and
// capability results:
//  * per device, metric, mode and parameters, the change of the median from sweep a
//    to sweep b, decided from every repetition (issue 20): a regression or an
//    improvement is significant by the Mann-Whitney U test (p below the
//    significance) and beyond the threshold; a change the test could not show with
//    so few repetitions is inconclusive, never unchanged. Each row carries the
//    test, p, a 95 % bootstrap interval of median_b / median_a and the sample
//    counts. Labels: regression / missing / improved / new / inconclusive /
//    unchanged, in that order;
//  * each row notes what differed in the two figures' provenance (a tool or
//    kernel upgrade between the sweeps), so such a change is not taken for the
//    device's own;
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
// A change is significant when the test's two-sided p is below this.
constexpr double kDefaultSignificance = 0.05;

struct SweepComparison {
  std::vector<farm::v1::MetricChange> changes;
  std::vector<farm::v1::VerdictChange> verdict_changes;
};

// Both sweeps read from `store` and compared. INVALID_ARGUMENT for an empty id
// ("sweep_a is required") or a negative threshold; a sweep the store can't read
// fails with the store's code, the message naming the field ("sweep_b: no sweep
// 'x'"). `threshold_percent` absent: kDefaultThresholdPercent; `significance`
// absent: kDefaultSignificance (INVALID_ARGUMENT outside (0, 1)).
absl::StatusOr<SweepComparison> CompareStoredSweeps(
    store::Store& store, const std::string& sweep_a, const std::string& sweep_b,
    absl::optional<double> threshold_percent, absl::optional<double> significance = absl::nullopt);

// Regressions first. `threshold_percent`: a smaller change is UNCHANGED;
// `significance`: a change with a larger p is not shown.
std::vector<farm::v1::MetricChange> CompareSummaries(const std::vector<store::StoredSummary>& a,
                                                     const std::vector<store::StoredSummary>& b,
                                                     double threshold_percent,
                                                     double significance = kDefaultSignificance);

// The provenance of each device's figures in each mode ((device, mode) -> the
// benchmark result's provenance), from a sweep read with its results.
using ProvenanceByCell = std::map<std::pair<std::string, int>, farm::v1::Provenance>;
ProvenanceByCell ProvenanceOf(const farm::v1::Sweep& sweep);

// What differs between two figures' software ("agent 0.3.0 -> 0.4.0; qemu 7.2.5 ->
// 8.0.0"): agent version, workload build, kernel, Android build, QEMU and guest
// image. A field either side left empty is not compared. Empty when nothing.
std::string ProvenanceChanges(const farm::v1::Provenance& a, const farm::v1::Provenance& b);

// Each change's provenance_changes, from both sweeps' provenance.
void NoteProvenanceChanges(const ProvenanceByCell& a, const ProvenanceByCell& b,
                           std::vector<farm::v1::MetricChange>* changes);

// Verdicts per device in two sweeps' capability results.
std::vector<farm::v1::VerdictChange> CompareVerdicts(
    const std::map<std::string, farm::v1::Verdict>& a,
    const std::map<std::string, farm::v1::Verdict>& b);

}  // namespace kvmfarm::comparison

#endif  // KVMFARM_CONTROLLER_COMPARISON_SWEEP_COMPARISON_H_
