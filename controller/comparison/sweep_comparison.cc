#include "controller/comparison/sweep_comparison.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/matrix/verdict_rank.h"

namespace kvmfarm::comparison {
namespace {

using matrix::VerdictRank;

// One sweep as the comparison needs it: its summaries and its verdicts per device.
struct SweepResults {
  std::vector<store::StoredSummary> summaries;
  std::map<std::string, farm::v1::Verdict> verdicts;
};

absl::StatusOr<SweepResults> ReadSweep(store::Store& store, const std::string& field,
                                       const std::string& sweep_id) {
  if (sweep_id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  absl::StatusOr<farm::v1::Sweep> sweep = store.GetSweep(sweep_id, true);
  if (!sweep.ok()) {
    return absl::Status(sweep.status().code(), absl::StrCat(field, ": ", sweep.status().message()));
  }
  SweepResults results;
  for (const farm::v1::Task& task : sweep->tasks()) {
    if (task.has_capability()) results.verdicts[task.device_id()] = task.capability().verdict();
  }
  ASSIGN_OR_RETURN(results.summaries, store.SweepSummaries(sweep_id));
  return results;
}

}  // namespace

absl::StatusOr<SweepComparison> CompareStoredSweeps(store::Store& store, const std::string& sweep_a,
                                                    const std::string& sweep_b,
                                                    absl::optional<double> threshold_percent) {
  ASSIGN_OR_RETURN(const SweepResults a, ReadSweep(store, "sweep_a", sweep_a));
  ASSIGN_OR_RETURN(const SweepResults b, ReadSweep(store, "sweep_b", sweep_b));
  const double threshold = threshold_percent.value_or(kDefaultThresholdPercent);
  if (threshold < 0) {
    return absl::InvalidArgumentError("threshold_percent must not be negative");
  }
  SweepComparison comparison;
  comparison.changes = CompareSummaries(a.summaries, b.summaries, threshold);
  comparison.verdict_changes = CompareVerdicts(a.verdicts, b.verdicts);
  return comparison;
}

std::vector<farm::v1::MetricChange> CompareSummaries(const std::vector<store::StoredSummary>& a,
                                                     const std::vector<store::StoredSummary>& b,
                                                     double threshold_percent) {
  using Key = std::tuple<std::string, std::string, int, std::string>;
  auto key_of = [](const store::StoredSummary& s) {
    return Key{s.device_id, s.measurement.metric(), s.measurement.mode(),
               store::ParametersKeyOf(s)};
  };
  std::map<Key, const store::StoredSummary*> in_a, in_b;
  for (const auto& s : a) in_a[key_of(s)] = &s;
  for (const auto& s : b) in_b[key_of(s)] = &s;
  std::map<Key, int> keys;
  for (const auto& [k, s] : in_a) keys[k] = 0;
  for (const auto& [k, s] : in_b) keys[k] = 0;

  std::vector<farm::v1::MetricChange> changes;
  for (const auto& [key, unused] : keys) {
    const store::StoredSummary* sa = in_a.count(key) ? in_a[key] : nullptr;
    const store::StoredSummary* sb = in_b.count(key) ? in_b[key] : nullptr;
    const farm::v1::Measurement& m = sb != nullptr ? sb->measurement : sa->measurement;
    farm::v1::MetricChange change;
    change.set_device_id(std::get<0>(key));
    change.set_metric(m.metric());
    change.set_mode(m.mode());
    *change.mutable_parameters() = m.parameters();
    change.set_unit(m.unit());
    if (sa != nullptr && sa->measurement.has_median())
      change.set_median_a(sa->measurement.median());
    if (sb != nullptr && sb->measurement.has_median())
      change.set_median_b(sb->measurement.median());
    if (!change.has_median_a()) {
      change.set_label(farm::v1::CHANGE_LABEL_NEW);
    } else if (!change.has_median_b()) {
      change.set_label(farm::v1::CHANGE_LABEL_MISSING);
    } else {
      const double pct = change.median_a() == 0
                             ? 0
                             : 100 * (change.median_b() - change.median_a()) / change.median_a();
      change.set_change_percent(pct);
      if (std::fabs(pct) < threshold_percent) {
        change.set_label(farm::v1::CHANGE_LABEL_UNCHANGED);
      } else {
        const bool better = m.higher_is_better() ? pct > 0 : pct < 0;
        change.set_label(better ? farm::v1::CHANGE_LABEL_IMPROVED
                                : farm::v1::CHANGE_LABEL_REGRESSION);
      }
    }
    changes.push_back(std::move(change));
  }
  auto order = [](farm::v1::ChangeLabel l) {
    switch (l) {
      case farm::v1::CHANGE_LABEL_REGRESSION:
        return 0;
      case farm::v1::CHANGE_LABEL_MISSING:
        return 1;
      case farm::v1::CHANGE_LABEL_IMPROVED:
        return 2;
      case farm::v1::CHANGE_LABEL_NEW:
        return 3;
      default:
        return 4;
    }
  };
  std::stable_sort(changes.begin(), changes.end(),
                   [&](const farm::v1::MetricChange& x, const farm::v1::MetricChange& y) {
                     return order(x.label()) < order(y.label());
                   });
  return changes;
}

std::vector<farm::v1::VerdictChange> CompareVerdicts(
    const std::map<std::string, farm::v1::Verdict>& a,
    const std::map<std::string, farm::v1::Verdict>& b) {
  std::map<std::string, int> devices;
  for (const auto& [d, v] : a) devices[d] = 0;
  for (const auto& [d, v] : b) devices[d] = 0;
  std::vector<farm::v1::VerdictChange> out;
  for (const auto& [device, unused] : devices) {
    farm::v1::VerdictChange change;
    change.set_device_id(device);
    auto ia = a.find(device);
    auto ib = b.find(device);
    if (ia != a.end()) change.set_verdict_a(ia->second);
    if (ib != b.end()) change.set_verdict_b(ib->second);
    if (ia == a.end()) {
      change.set_label(farm::v1::CHANGE_LABEL_NEW);
    } else if (ib == b.end()) {
      change.set_label(farm::v1::CHANGE_LABEL_MISSING);
    } else if (ia->second == ib->second) {
      change.set_label(farm::v1::CHANGE_LABEL_UNCHANGED);
    } else {
      change.set_label(VerdictRank(ib->second) > VerdictRank(ia->second)
                           ? farm::v1::CHANGE_LABEL_REGRESSION
                           : farm::v1::CHANGE_LABEL_IMPROVED);
    }
    out.push_back(std::move(change));
  }
  return out;
}

}  // namespace kvmfarm::comparison
