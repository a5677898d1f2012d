#include "controller/matrix/matrix.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "common/measurement.h"

namespace kvmfarm::matrix {
namespace {

using google::protobuf::util::TimeUtil;

// The store's canonical parameter string, or one built from the measurement.
std::string ParamsKey(const store::StoredSummary& s) {
  if (!s.parameters_key.empty() || s.measurement.parameters().empty()) return s.parameters_key;
  return ParametersKey(s.measurement.parameters());
}

std::string GroupKey(const farm::v1::Device& d, farm::v1::GroupBy group_by) {
  switch (group_by) {
    case farm::v1::GROUP_BY_MODEL:
      return d.identity().model().empty() ? d.device_id() : d.identity().model();
    case farm::v1::GROUP_BY_SOC:
      return !d.identity().soc_marketing_name().empty() ? d.identity().soc_marketing_name()
             : !d.identity().soc_model().empty()        ? d.identity().soc_model()
                                                        : d.identity().cpu_model_name();
    default:
      return d.device_id();
  }
}

// Lower is better for how close a verdict is to "use KVM".
int VerdictRank(farm::v1::Verdict v) {
  switch (v) {
    case farm::v1::VERDICT_KVM_READY:
      return 0;
    case farm::v1::VERDICT_KVM_BOOT_UNTESTED:
      return 1;
    case farm::v1::VERDICT_KVM_BOOT_FAILED:
      return 2;
    case farm::v1::VERDICT_UNSPECIFIED:
      return 9;
    default:
      return 3;
  }
}

// Ratio of a to b as "how many times better a is", whatever the metric's direction.
double Better(double a, double b, bool higher_is_better) {
  return higher_is_better ? a / b : b / a;
}

// Values pooled over the summaries of one cell and mode.
struct Pool {
  std::vector<double> values;
  uint32_t requested = 0;
  std::string sweep_id;
  int64_t measured_ns = 0;
};

void FillAggregate(const Pool& pool, farm::v1::Aggregate* out) {
  farm::v1::Measurement m;
  for (double v : pool.values) m.add_values(v);
  Summarize(&m);
  if (m.has_median()) {
    out->set_median(m.median());
    out->set_min(m.min());
    out->set_max(m.max());
  }
  out->set_samples(static_cast<uint32_t>(pool.values.size()));
  out->set_samples_requested(pool.requested);
  out->set_sweep_id(pool.sweep_id);
  *out->mutable_measured_at() = TimeUtil::NanosecondsToTimestamp(pool.measured_ns);
}

}  // namespace

std::vector<farm::v1::MatrixRow> BuildMatrix(const std::vector<farm::v1::Device>& devices,
                                             const std::vector<store::StoredSummary>& summaries,
                                             farm::v1::GroupBy group_by) {
  std::map<std::string, std::vector<const farm::v1::Device*>> groups;
  std::unordered_map<std::string, std::string> group_of;
  for (const farm::v1::Device& d : devices) {
    const std::string key = GroupKey(d, group_by);
    groups[key].push_back(&d);
    group_of[d.device_id()] = key;
  }
  // group -> (metric, params) -> mode -> pool
  struct CellPools {
    farm::v1::Measurement first;
    std::map<farm::v1::Mode, Pool> by_mode;
  };
  std::map<std::string, std::map<std::pair<std::string, std::string>, CellPools>> cells;
  std::map<std::string, int64_t> last_tested;
  for (const store::StoredSummary& s : summaries) {
    auto group = group_of.find(s.device_id);
    if (group == group_of.end()) continue;
    const farm::v1::Measurement& m = s.measurement;
    CellPools& pools = cells[group->second][{m.metric(), ParamsKey(s)}];
    if (pools.first.metric().empty()) pools.first = m;
    Pool& pool = pools.by_mode[m.mode()];
    pool.values.insert(pool.values.end(), m.values().begin(), m.values().end());
    pool.requested += s.requested_repetitions;
    pool.sweep_id = s.sweep_id;
    pool.measured_ns = std::max(pool.measured_ns, s.measured_ns);
    last_tested[group->second] = std::max(last_tested[group->second], s.measured_ns);
  }
  // A guest of another architecture (an arm64 guest under TCG on an x86-64 host)
  // keeps its own cell; its native column is the host's native figure of the same
  // metric and parameters, so its percentage of native says what running the guest
  // costs on this device.
  for (auto& [group, group_cells] : cells) {
    for (auto& [cell_key, pools] : group_cells) {
      if (!pools.first.parameters().count(kGuestArchParameter) ||
          pools.by_mode.count(farm::v1::MODE_NATIVE)) {
        continue;
      }
      auto host = group_cells.find(
          {cell_key.first, ParametersKey(pools.first.parameters(), kGuestArchParameter)});
      if (host != group_cells.end() && host->second.by_mode.count(farm::v1::MODE_NATIVE)) {
        pools.by_mode[farm::v1::MODE_NATIVE] = host->second.by_mode.at(farm::v1::MODE_NATIVE);
      }
    }
  }

  std::vector<farm::v1::MatrixRow> rows;
  for (const auto& [key, members] : groups) {
    farm::v1::MatrixRow row;
    row.set_key(key);
    const farm::v1::Device& first = *members.front();
    *row.mutable_identity() = first.identity();
    bool all_fixtures = true;
    std::map<farm::v1::Verdict, int> verdicts;
    for (const farm::v1::Device* d : members) {
      row.add_device_ids(d->device_id());
      all_fixtures = all_fixtures && d->identity().is_fixture();
      ++verdicts[d->capability().verdict()];
      (*row.mutable_verdict_counts())[farm::v1::Verdict_Name(d->capability().verdict())]++;
    }
    // The group's verdict: the most common, ties to the better one.
    farm::v1::Verdict verdict = first.capability().verdict();
    int most = 0;
    for (const auto& [v, count] : verdicts) {
      if (count > most || (count == most && VerdictRank(v) < VerdictRank(verdict))) {
        most = count;
        verdict = v;
      }
    }
    const farm::v1::Device* representative = &first;
    for (const farm::v1::Device* d : members) {
      if (d->capability().verdict() == verdict) {
        representative = d;
        break;
      }
    }
    row.set_verdict(verdict);
    row.set_hypervisor_kind(representative->capability().hypervisor_kind());
    *row.mutable_verdict_reasons() = representative->capability().verdict_reasons();
    row.set_recommendation(representative->capability().recommendation());
    row.set_is_fixture(all_fixtures);
    if (last_tested.count(key)) {
      *row.mutable_last_tested() = TimeUtil::NanosecondsToTimestamp(last_tested[key]);
    }
    for (auto& [cell_key, pools] : cells[key]) {
      farm::v1::MatrixCell* cell = row.add_cells();
      cell->set_metric(pools.first.metric());
      cell->set_unit(pools.first.unit());
      cell->set_higher_is_better(pools.first.higher_is_better());
      *cell->mutable_parameters() = pools.first.parameters();
      auto fill = [&](farm::v1::Mode mode, farm::v1::Aggregate* out) {
        auto it = pools.by_mode.find(mode);
        if (it != pools.by_mode.end()) FillAggregate(it->second, out);
      };
      fill(farm::v1::MODE_NATIVE, cell->mutable_native());
      fill(farm::v1::MODE_KVM, cell->mutable_kvm());
      fill(farm::v1::MODE_TCG, cell->mutable_tcg());
      if (!pools.by_mode.count(farm::v1::MODE_NATIVE)) cell->clear_native();
      if (!pools.by_mode.count(farm::v1::MODE_KVM)) cell->clear_kvm();
      if (!pools.by_mode.count(farm::v1::MODE_TCG)) cell->clear_tcg();
      const bool hib = cell->higher_is_better();
      auto usable = [](const farm::v1::Aggregate& a) { return a.has_median() && a.median() > 0; };
      if (cell->has_native() && usable(cell->native())) {
        if (cell->has_kvm() && usable(cell->kvm())) {
          cell->set_kvm_percent_of_native(
              100 * Better(cell->kvm().median(), cell->native().median(), hib));
        }
        if (cell->has_tcg() && usable(cell->tcg())) {
          cell->set_tcg_percent_of_native(
              100 * Better(cell->tcg().median(), cell->native().median(), hib));
        }
      }
      if (cell->has_kvm() && cell->has_tcg() && usable(cell->kvm()) && usable(cell->tcg())) {
        cell->set_kvm_speedup_over_tcg(Better(cell->kvm().median(), cell->tcg().median(), hib));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<farm::v1::MetricChange> CompareSummaries(const std::vector<store::StoredSummary>& a,
                                                     const std::vector<store::StoredSummary>& b,
                                                     double threshold_percent) {
  using Key = std::tuple<std::string, std::string, int, std::string>;
  auto key_of = [](const store::StoredSummary& s) {
    return Key{s.device_id, s.measurement.metric(), s.measurement.mode(), ParamsKey(s)};
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

}  // namespace kvmfarm::matrix
