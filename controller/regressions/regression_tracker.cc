#include "controller/regressions/regression_tracker.h"

#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/measurement.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "controller/matrix/matrix.h"
#include "controller/matrix/verdict_rank.h"

namespace kvmfarm::regressions {
namespace {

// What identifies a performance regression of a device: metric, mode, parameters.
std::string CellOf(const farm::v1::MetricChange& change) {
  return absl::StrCat(change.metric(), "|", farm::v1::Mode_Name(change.mode()), "|",
                      ParametersKey(change.parameters()));
}

// "native", "kvm", "tcg".
std::string ModeWord(farm::v1::Mode mode) {
  return absl::AsciiStrToLower(absl::StripPrefix(farm::v1::Mode_Name(mode), "MODE_"));
}

bool Finished(farm::v1::SweepState state) {
  return state == farm::v1::SWEEP_STATE_SUCCEEDED || state == farm::v1::SWEEP_STATE_FAILED ||
         state == farm::v1::SWEEP_STATE_CANCELLED;
}

farm::v1::GroupBy GroupOf(farm::v1::BaselineScope scope) {
  return scope == farm::v1::BASELINE_SCOPE_MODEL ? farm::v1::GROUP_BY_MODEL
         : scope == farm::v1::BASELINE_SCOPE_SOC ? farm::v1::GROUP_BY_SOC
                                                 : farm::v1::GROUP_BY_DEVICE;
}

// Figures of one cell pooled over several devices, relabelled as `device_id`'s.
std::vector<store::StoredSummary> Pool(const std::vector<const store::StoredSummary*>& figures,
                                       const std::string& device_id) {
  std::map<std::tuple<std::string, int, std::string>, store::StoredSummary> cells;
  for (const store::StoredSummary* s : figures) {
    const auto key =
        std::make_tuple(s->measurement.metric(), static_cast<int>(s->measurement.mode()),
                        store::ParametersKeyOf(*s));
    auto [it, first] = cells.try_emplace(key, *s);
    store::StoredSummary& pooled = it->second;
    if (first) {
      pooled.device_id = device_id;
      continue;
    }
    for (double v : s->measurement.values()) pooled.measurement.add_values(v);
  }
  std::vector<store::StoredSummary> out;
  for (auto& [key, pooled] : cells) {
    Summarize(&pooled.measurement);
    out.push_back(std::move(pooled));
  }
  return out;
}

}  // namespace

absl::StatusOr<farm::v1::Baseline> PinBaseline(store::Store& store,
                                               const farm::v1::SetBaselineRequest& request,
                                               const std::string& by, absl::Time now) {
  const farm::v1::BaselineScope scope = request.scope();
  const std::string& key = request.key();
  const std::string& sweep_id = request.sweep_id();
  if (scope == farm::v1::BASELINE_SCOPE_UNSPECIFIED) {
    return absl::InvalidArgumentError("scope is required: device, model or soc");
  }
  if (key.empty()) {
    return absl::InvalidArgumentError("key is required: the device id, model or SoC");
  }
  if (sweep_id.empty()) return absl::InvalidArgumentError("sweep_id is required");
  absl::StatusOr<farm::v1::Sweep> sweep = store.GetSweep(sweep_id, false);
  if (!sweep.ok()) {
    return absl::Status(sweep.status().code(),
                        absl::StrCat("sweep_id: ", sweep.status().message()));
  }
  if (!Finished(sweep->state())) {
    return absl::FailedPreconditionError(absl::StrCat("sweep_id: sweep ", sweep_id, " is still ",
                                                      farm::v1::SweepState_Name(sweep->state()),
                                                      "; a baseline must be a finished sweep"));
  }
  farm::v1::Baseline baseline;
  baseline.set_scope(scope);
  baseline.set_key(key);
  baseline.set_sweep_id(sweep_id);
  baseline.set_set_by(by);
  *baseline.mutable_set_at() = ToProtoTimestamp(now);
  RETURN_IF_ERROR(store.PutBaseline(baseline));
  return baseline;
}

std::string EventName(const farm::v1::Regression& regression) {
  const char* kind =
      regression.kind() == farm::v1::REGRESSION_KIND_VERDICT ? "verdict_regression" : "regression";
  return absl::StrCat(
      kind, regression.state() == farm::v1::REGRESSION_STATE_FIXED ? "_fixed" : "_opened");
}

RegressionTracker::RegressionTracker(store::Store* store, const Clock* clock, Announce announce,
                                     TrackerOptions options)
    : store_(store), clock_(clock), announce_(std::move(announce)), options_(options) {}

const farm::v1::Baseline* RegressionTracker::BaselineOf(
    const farm::v1::Device& device, const std::vector<farm::v1::Baseline>& baselines) {
  for (farm::v1::BaselineScope scope :
       {farm::v1::BASELINE_SCOPE_DEVICE, farm::v1::BASELINE_SCOPE_MODEL,
        farm::v1::BASELINE_SCOPE_SOC}) {
    const std::string key = matrix::GroupKey(device, GroupOf(scope));
    for (const farm::v1::Baseline& baseline : baselines) {
      if (baseline.scope() == scope && baseline.key() == key) return &baseline;
    }
  }
  return nullptr;
}

absl::StatusOr<std::vector<farm::v1::Regression>> RegressionTracker::SweepFinished(
    const std::string& sweep_id) {
  std::vector<farm::v1::Regression> announced;
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Baseline> baselines, store_->ListBaselines());
  if (baselines.empty()) return announced;
  std::set<std::string> checked;
  RETURN_IF_ERROR(CheckSweep(sweep_id, baselines, &checked, &announced));
  return announced;
}

absl::StatusOr<std::vector<farm::v1::Regression>> RegressionTracker::RecheckNewest(int sweeps) {
  std::vector<farm::v1::Regression> announced;
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Baseline> baselines, store_->ListBaselines());
  if (baselines.empty()) return announced;
  store::SweepListQuery query;
  query.states = {farm::v1::SWEEP_STATE_SUCCEEDED, farm::v1::SWEEP_STATE_FAILED};
  query.limit = sweeps;
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Sweep> newest, store_->ListSweeps(query));
  std::set<std::string> checked;  // devices whose newest sweep was checked
  for (const farm::v1::Sweep& sweep : newest) {
    RETURN_IF_ERROR(CheckSweep(sweep.sweep_id(), baselines, &checked, &announced));
  }
  return announced;
}

absl::Status RegressionTracker::CheckSweep(const std::string& sweep_id,
                                           const std::vector<farm::v1::Baseline>& baselines,
                                           std::set<std::string>* checked,
                                           std::vector<farm::v1::Regression>* announced) {
  ASSIGN_OR_RETURN(const farm::v1::Sweep sweep, store_->GetSweep(sweep_id, true));
  ASSIGN_OR_RETURN(const std::vector<store::StoredSummary> summaries,
                   store_->SweepSummaries(sweep_id));
  std::map<std::string, std::vector<store::StoredSummary>> by_device;
  for (const store::StoredSummary& s : summaries) by_device[s.device_id].push_back(s);
  for (const auto& [device_id, figures] : by_device) {
    if (!checked->insert(device_id).second) continue;  // a newer sweep was its check
    ASSIGN_OR_RETURN(const farm::v1::Device device, store_->GetDevice(device_id));
    const farm::v1::Baseline* baseline = BaselineOf(device, baselines);
    if (baseline == nullptr || baseline->sweep_id() == sweep_id) continue;
    RETURN_IF_ERROR(CheckDevice(device, *baseline, sweep, figures, announced));
  }
  return absl::OkStatus();
}

absl::Status RegressionTracker::BaselineFigures(const farm::v1::Device& device,
                                                const farm::v1::Baseline& baseline,
                                                std::vector<store::StoredSummary>* figures,
                                                comparison::ProvenanceByCell* provenance) {
  ASSIGN_OR_RETURN(const std::vector<store::StoredSummary> all,
                   store_->SweepSummaries(baseline.sweep_id()));
  ASSIGN_OR_RETURN(const farm::v1::Sweep sweep, store_->GetSweep(baseline.sweep_id(), true));
  const comparison::ProvenanceByCell sweep_provenance = comparison::ProvenanceOf(sweep);
  const farm::v1::GroupBy group_by = GroupOf(baseline.scope());
  std::map<std::string, bool> in_group;  // device id -> whether it is of the baseline's group
  std::vector<const store::StoredSummary*> chosen;
  for (const store::StoredSummary& s : all) {
    auto [it, unseen] = in_group.try_emplace(s.device_id, false);
    if (unseen) {
      absl::StatusOr<farm::v1::Device> member = store_->GetDevice(s.device_id);
      it->second = member.ok() && matrix::GroupKey(*member, group_by) == baseline.key();
    }
    if (!it->second) continue;
    chosen.push_back(&s);
    auto p = sweep_provenance.find({s.device_id, s.measurement.mode()});
    if (p != sweep_provenance.end()) {
      provenance->try_emplace({device.device_id(), s.measurement.mode()}, p->second);
    }
  }
  *figures = Pool(chosen, device.device_id());
  return absl::OkStatus();
}

absl::Status RegressionTracker::CheckDevice(const farm::v1::Device& device,
                                            const farm::v1::Baseline& baseline,
                                            const farm::v1::Sweep& sweep,
                                            const std::vector<store::StoredSummary>& figures,
                                            std::vector<farm::v1::Regression>* announced) {
  std::vector<store::StoredSummary> reference;
  comparison::ProvenanceByCell reference_provenance;
  RETURN_IF_ERROR(BaselineFigures(device, baseline, &reference, &reference_provenance));
  std::vector<farm::v1::MetricChange> changes = comparison::CompareSummaries(
      reference, figures, options_.threshold_percent, options_.significance);
  comparison::NoteProvenanceChanges(reference_provenance, comparison::ProvenanceOf(sweep),
                                    &changes);
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Regression> open,
                   store_->ListRegressions(true, device.device_id()));
  std::map<std::string, const farm::v1::Regression*> open_by_cell;
  for (const farm::v1::Regression& r : open) {
    if (r.kind() == farm::v1::REGRESSION_KIND_PERFORMANCE)
      open_by_cell[CellOf(r.first_change())] = &r;
  }
  for (const farm::v1::MetricChange& change : changes) {
    const farm::v1::ChangeLabel label = change.label();
    // Only the cells both measured: a figure this sweep didn't take says nothing.
    if (label == farm::v1::CHANGE_LABEL_NEW || label == farm::v1::CHANGE_LABEL_MISSING) continue;
    auto existing = open_by_cell.find(CellOf(change));
    if (existing == open_by_cell.end()) {
      if (label != farm::v1::CHANGE_LABEL_REGRESSION) continue;
      farm::v1::Regression opened;
      opened.set_regression_id(absl::StrCat(sweep.sweep_id(), ":", device.device_id(), ":",
                                            change.metric(), ":", ModeWord(change.mode())));
      opened.set_kind(farm::v1::REGRESSION_KIND_PERFORMANCE);
      opened.set_state(farm::v1::REGRESSION_STATE_OPEN);
      opened.set_device_id(device.device_id());
      *opened.mutable_baseline() = baseline;
      *opened.mutable_first_change() = change;
      *opened.mutable_last_change() = change;
      opened.set_first_sweep_id(sweep.sweep_id());
      opened.set_last_sweep_id(sweep.sweep_id());
      *opened.mutable_opened_at() = ToProtoTimestamp(clock_->Now());
      opened.set_provenance_changes(change.provenance_changes());
      RETURN_IF_ERROR(Record(opened, /*announce=*/true, announced));
      continue;
    }
    farm::v1::Regression updated = *existing->second;
    *updated.mutable_last_change() = change;
    updated.set_last_sweep_id(sweep.sweep_id());
    const bool back =
        label == farm::v1::CHANGE_LABEL_UNCHANGED || label == farm::v1::CHANGE_LABEL_IMPROVED;
    if (back) {
      updated.set_state(farm::v1::REGRESSION_STATE_FIXED);
      updated.set_fixed_sweep_id(sweep.sweep_id());
      *updated.mutable_fixed_at() = ToProtoTimestamp(clock_->Now());
    }
    RETURN_IF_ERROR(Record(updated, /*announce=*/back, announced));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<farm::v1::Regression>> RegressionTracker::VerdictStored(
    const std::string& device_id, farm::v1::Verdict before, farm::v1::Verdict after,
    const std::string& sweep_id) {
  std::vector<farm::v1::Regression> announced;
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Regression> open,
                   store_->ListRegressions(true, device_id));
  const farm::v1::Regression* existing = nullptr;
  for (const farm::v1::Regression& r : open) {
    if (r.kind() == farm::v1::REGRESSION_KIND_VERDICT) existing = &r;
  }
  if (existing != nullptr) {
    farm::v1::Regression updated = *existing;
    updated.set_verdict_after(after);
    updated.set_last_sweep_id(sweep_id);
    const bool back = matrix::VerdictRank(after) <= matrix::VerdictRank(existing->verdict_before());
    if (back) {
      updated.set_state(farm::v1::REGRESSION_STATE_FIXED);
      updated.set_fixed_sweep_id(sweep_id);
      *updated.mutable_fixed_at() = ToProtoTimestamp(clock_->Now());
    }
    RETURN_IF_ERROR(Record(updated, back, &announced));
    return announced;
  }
  // A first report is no change; an unknown verdict (the probe could not tell) is
  // not evidence that KVM went away.
  if (before == farm::v1::VERDICT_UNSPECIFIED || after == farm::v1::VERDICT_UNKNOWN ||
      matrix::VerdictRank(after) <= matrix::VerdictRank(before)) {
    return announced;
  }
  farm::v1::Regression opened;
  opened.set_regression_id(absl::StrCat(sweep_id, ":", device_id, ":verdict"));
  opened.set_kind(farm::v1::REGRESSION_KIND_VERDICT);
  opened.set_state(farm::v1::REGRESSION_STATE_OPEN);
  opened.set_device_id(device_id);
  opened.set_verdict_before(before);
  opened.set_verdict_after(after);
  opened.set_first_sweep_id(sweep_id);
  opened.set_last_sweep_id(sweep_id);
  *opened.mutable_opened_at() = ToProtoTimestamp(clock_->Now());
  RETURN_IF_ERROR(Record(opened, /*announce=*/true, &announced));
  return announced;
}

absl::Status RegressionTracker::Record(const farm::v1::Regression& regression, bool announce,
                                       std::vector<farm::v1::Regression>* announced) {
  RETURN_IF_ERROR(store_->PutRegression(regression));
  if (!announce) return absl::OkStatus();
  announced->push_back(regression);
  if (announce_) announce_(regression);
  return absl::OkStatus();
}

}  // namespace kvmfarm::regressions
