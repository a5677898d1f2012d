#include "controller/comparison/sweep_comparison.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/statistics/two_samples.h"
#include "common/status_macros.h"
#include "controller/matrix/verdict_rank.h"

namespace kvmfarm::comparison {
namespace {

using matrix::VerdictRank;

// One sweep as the comparison needs it: its summaries, its verdicts per device and
// its figures' provenance.
struct SweepResults {
  std::vector<store::StoredSummary> summaries;
  std::map<std::string, farm::v1::Verdict> verdicts;
  ProvenanceByCell provenance;
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
  results.provenance = ProvenanceOf(*sweep);
  ASSIGN_OR_RETURN(results.summaries, store.SweepSummaries(sweep_id));
  return results;
}

// Labels a figure measured in both sweeps, from every repetition: significant (the
// U test's p below `significance`) and beyond the threshold is a regression or an
// improvement; significant but small, or small and not significant with enough
// repetitions to have shown a change, is unchanged; not significant with too few
// repetitions to show any, or a large change the noise hides, is inconclusive.
void Decide(const farm::v1::Measurement& a, const farm::v1::Measurement& b,
            double threshold_percent, double significance, farm::v1::MetricChange* change) {
  const std::vector<double> xs(a.values().begin(), a.values().end());
  const std::vector<double> ys(b.values().begin(), b.values().end());
  const double pct = change->median_a() == 0
                         ? 0
                         : 100 * (change->median_b() - change->median_a()) / change->median_a();
  change->set_change_percent(pct);
  change->set_samples_a(static_cast<uint32_t>(xs.size()));
  change->set_samples_b(static_cast<uint32_t>(ys.size()));
  if (xs.empty() || ys.empty()) {  // a summary without its repetitions: no test
    change->set_label(farm::v1::CHANGE_LABEL_INCONCLUSIVE);
    return;
  }
  const statistics::UTest test = statistics::MannWhitneyU(xs, ys);
  change->set_test(test.exact ? "mann-whitney-u exact" : "mann-whitney-u normal");
  change->set_p_value(test.p_value);
  if (std::optional<statistics::Interval> ratio = statistics::BootstrapMedianRatio(xs, ys)) {
    change->set_ratio_low(ratio->low);
    change->set_ratio_high(ratio->high);
  }
  if (test.p_value >= significance) {
    const bool could_show =
        statistics::SmallestUTestP(static_cast<int64_t>(xs.size()),
                                   static_cast<int64_t>(ys.size())) < significance;
    change->set_label(could_show && std::fabs(pct) < threshold_percent
                          ? farm::v1::CHANGE_LABEL_UNCHANGED
                          : farm::v1::CHANGE_LABEL_INCONCLUSIVE);
  } else if (std::fabs(pct) < threshold_percent) {
    change->set_label(farm::v1::CHANGE_LABEL_UNCHANGED);
  } else {
    const bool better = a.higher_is_better() ? pct > 0 : pct < 0;
    change->set_label(better ? farm::v1::CHANGE_LABEL_IMPROVED : farm::v1::CHANGE_LABEL_REGRESSION);
  }
}

}  // namespace

absl::StatusOr<SweepComparison> CompareStoredSweeps(store::Store& store, const std::string& sweep_a,
                                                    const std::string& sweep_b,
                                                    absl::optional<double> threshold_percent,
                                                    absl::optional<double> significance) {
  ASSIGN_OR_RETURN(const SweepResults a, ReadSweep(store, "sweep_a", sweep_a));
  ASSIGN_OR_RETURN(const SweepResults b, ReadSweep(store, "sweep_b", sweep_b));
  const double threshold = threshold_percent.value_or(kDefaultThresholdPercent);
  if (threshold < 0) {
    return absl::InvalidArgumentError("threshold_percent must not be negative");
  }
  const double alpha = significance.value_or(kDefaultSignificance);
  if (!(alpha > 0 && alpha < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("significance ", alpha, " is not between 0 and 1 (0.05 is usual)"));
  }
  SweepComparison comparison;
  comparison.changes = CompareSummaries(a.summaries, b.summaries, threshold, alpha);
  NoteProvenanceChanges(a.provenance, b.provenance, &comparison.changes);
  comparison.verdict_changes = CompareVerdicts(a.verdicts, b.verdicts);
  return comparison;
}

std::vector<farm::v1::MetricChange> CompareSummaries(const std::vector<store::StoredSummary>& a,
                                                     const std::vector<store::StoredSummary>& b,
                                                     double threshold_percent,
                                                     double significance) {
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
      Decide(sa->measurement, sb->measurement, threshold_percent, significance, &change);
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
      case farm::v1::CHANGE_LABEL_INCONCLUSIVE:
        return 4;
      default:
        return 5;
    }
  };
  std::stable_sort(changes.begin(), changes.end(),
                   [&](const farm::v1::MetricChange& x, const farm::v1::MetricChange& y) {
                     return order(x.label()) < order(y.label());
                   });
  return changes;
}

ProvenanceByCell ProvenanceOf(const farm::v1::Sweep& sweep) {
  ProvenanceByCell provenance;
  for (const farm::v1::Task& task : sweep.tasks()) {
    // A boot's figures share the cell key (device, mode) with a benchmark's: a
    // boot's provenance counts where the sweep ran no benchmark in that mode.
    if (task.has_boot_result()) {
      for (const farm::v1::Measurement& m : task.boot_result().measurements()) {
        provenance.try_emplace({task.device_id(), m.mode()}, task.boot_result().provenance());
      }
    }
    if (!task.has_benchmark()) continue;
    for (const farm::v1::Measurement& m : task.benchmark().measurements()) {
      provenance[{task.device_id(), m.mode()}] = task.benchmark().provenance();
    }
  }
  return provenance;
}

std::string ProvenanceChanges(const farm::v1::Provenance& a, const farm::v1::Provenance& b) {
  const std::pair<const char*, std::string (*)(const farm::v1::Provenance&)> fields[] = {
      {"agent", [](const farm::v1::Provenance& p) { return p.agent_version(); }},
      {"workload", [](const farm::v1::Provenance& p) { return p.workload_build(); }},
      {"kernel", [](const farm::v1::Provenance& p) { return p.kernel_release(); }},
      {"build", [](const farm::v1::Provenance& p) { return p.build_fingerprint(); }},
      {"qemu", [](const farm::v1::Provenance& p) { return p.qemu_version(); }},
      {"guest image", [](const farm::v1::Provenance& p) { return p.guest_image_sha256(); }},
  };
  std::vector<std::string> changed;
  for (const auto& [name, field] : fields) {
    const std::string before = field(a), after = field(b);
    if (!before.empty() && !after.empty() && before != after) {
      changed.push_back(absl::StrCat(name, " ", before, " -> ", after));
    }
  }
  return absl::StrJoin(changed, "; ");
}

void NoteProvenanceChanges(const ProvenanceByCell& a, const ProvenanceByCell& b,
                           std::vector<farm::v1::MetricChange>* changes) {
  for (farm::v1::MetricChange& change : *changes) {
    auto in_a = a.find({change.device_id(), change.mode()});
    auto in_b = b.find({change.device_id(), change.mode()});
    if (in_a == a.end() || in_b == b.end()) continue;
    change.set_provenance_changes(ProvenanceChanges(in_a->second, in_b->second));
  }
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
