// -----------------------------------------------------------------------------
// File: regression_tracker.h
// -----------------------------------------------------------------------------
//
// Regressions with a life (issue 20). When a sweep ends, each device's figures are
// compared with its baseline (the device's own, else its model's, else its SoC's;
// store.h's PutBaseline) by the same test as CompareSweeps, over the cells both
// measured. A significant regression beyond the threshold opens a record; while
// later sweeps still show it the record stays open and is not announced again; the
// first sweep back within noise of the baseline (unchanged or better) fixes it. A
// result the test cannot decide (inconclusive) leaves the record as it is.
// A capability verdict that gets worse is a regression of its own kind, fixed when
// the verdict is back. Every record is written to the store before it is announced:
// what could not be written is not announced.
//
// A model's or SoC's baseline pools the baseline sweep's figures of every device of
// that model or SoC (as the matrix groups them), so a new phone of a model is held
// to what its model did.
//
// Example:
//
//   RegressionTracker tracker(store, &clock, [&](const Regression& r) { hook.Notify(r); });
//   ASSIGN_OR_RETURN(std::vector<farm::v1::Regression> changed,
//                    tracker.SweepFinished("sweep-17"));
#ifndef KVMFARM_CONTROLLER_REGRESSIONS_REGRESSION_TRACKER_H_
#define KVMFARM_CONTROLLER_REGRESSIONS_REGRESSION_TRACKER_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "controller/comparison/sweep_comparison.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::regressions {

struct TrackerOptions {
  double threshold_percent = comparison::kDefaultThresholdPercent;
  double significance = comparison::kDefaultSignificance;
};

// Told of every record opened or fixed, once it is stored.
using Announce = std::function<void(const farm::v1::Regression&)>;

class RegressionTracker {
 public:
  RegressionTracker(store::Store* store, const Clock* clock, Announce announce,
                    TrackerOptions options = {});

  // `sweep_id` ended: its devices' figures against their baselines. Returns the
  // records it opened or fixed (those announced).
  absl::StatusOr<std::vector<farm::v1::Regression>> SweepFinished(const std::string& sweep_id);

  // After a restart or a change of leader: each device's newest finished sweep
  // among the newest `sweeps` is checked again, for a check the crash lost (the
  // worker's queue is memory). Safe to repeat: a device's newest sweep leaves its
  // records as its first check did, and nothing is announced twice.
  absl::StatusOr<std::vector<farm::v1::Regression>> RecheckNewest(int sweeps);

  // Device `device_id`'s capability verdict went from `before` to `after` in
  // `sweep_id`. Returns the record opened or fixed, if any.
  absl::StatusOr<std::vector<farm::v1::Regression>> VerdictStored(const std::string& device_id,
                                                                  farm::v1::Verdict before,
                                                                  farm::v1::Verdict after,
                                                                  const std::string& sweep_id);

 private:
  // The baseline of `device` among `baselines`, if it has one.
  static const farm::v1::Baseline* BaselineOf(const farm::v1::Device& device,
                                              const std::vector<farm::v1::Baseline>& baselines);
  // Each device measured in `sweep_id` and not yet in `checked`, against its
  // baseline; each is added to `checked`.
  absl::Status CheckSweep(const std::string& sweep_id,
                          const std::vector<farm::v1::Baseline>& baselines,
                          std::set<std::string>* checked,
                          std::vector<farm::v1::Regression>* announced);
  // The device's figures compared with its baseline's; records updated.
  absl::Status CheckDevice(const farm::v1::Device& device, const farm::v1::Baseline& baseline,
                           const farm::v1::Sweep& sweep,
                           const std::vector<store::StoredSummary>& figures,
                           std::vector<farm::v1::Regression>* announced);
  // The baseline sweep's figures for `device` (pooled over its model or SoC), with
  // their provenance keyed as `device`'s.
  absl::Status BaselineFigures(const farm::v1::Device& device, const farm::v1::Baseline& baseline,
                               std::vector<store::StoredSummary>* figures,
                               comparison::ProvenanceByCell* provenance);
  // Stores `regression` and, when `announce`, announces it and adds it to `announced`.
  absl::Status Record(const farm::v1::Regression& regression, bool announce,
                      std::vector<farm::v1::Regression>* announced);

  store::Store* const store_;
  const Clock* const clock_;
  const Announce announce_;
  const TrackerOptions options_;
};

// Pins `sweep_id` as the baseline of `key` in `scope` (replacing its earlier one),
// `by` for the audit trail. INVALID_ARGUMENT naming the field for an unspecified
// scope, an empty key or sweep; NOT_FOUND for a sweep the store doesn't have;
// FAILED_PRECONDITION for one still running (its figures are not all in).
absl::StatusOr<farm::v1::Baseline> PinBaseline(store::Store& store,
                                               const farm::v1::SetBaselineRequest& request,
                                               const std::string& by, absl::Time now);

// "open"/"fixed" and the kind, for logs and webhooks: "regression_opened".
std::string EventName(const farm::v1::Regression& regression);

}  // namespace kvmfarm::regressions

#endif  // KVMFARM_CONTROLLER_REGRESSIONS_REGRESSION_TRACKER_H_
