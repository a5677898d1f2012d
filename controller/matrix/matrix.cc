#include "controller/matrix/matrix.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "common/measurement.h"
#include "common/statistics/two_samples.h"
#include "controller/matrix/verdict_rank.h"

namespace kvmfarm::matrix {
namespace {

using google::protobuf::util::TimeUtil;

// Ratio of a to b as "how many times better a is", whatever the metric's direction.
double Better(double a, double b, bool higher_is_better) {
  return higher_is_better ? a / b : b / a;
}

// Values pooled over the summaries of one cell and mode.
struct Pool {
  std::vector<double> values;
  // Of `values`, how many were measured while the device throttled.
  uint32_t throttled = 0;
  uint32_t requested = 0;
  std::string sweep_id;
  int64_t measured_ns = 0;
  // How many summaries were pooled; the last one's task and stored intervals (a
  // device's row has one summary per pool, whose intervals the cell shows).
  int summaries = 0;
  std::string task_id;
  const farm::v1::GuestIntervals* intervals = nullptr;
};

// One cell's pools: the first summary's measurement (metric, unit, parameters)
// and a pool per mode.
struct CellPools {
  farm::v1::Measurement first;
  std::map<farm::v1::Mode, Pool> by_mode;
};

// A group's cells, by (metric, parameters).
using GroupCells = std::map<std::pair<std::string, std::string>, CellPools>;

// Devices by group key, in key order.
struct Groups {
  std::map<std::string, std::vector<const farm::v1::Device*>> members;
  std::unordered_map<std::string, std::string> group_of;  // device id -> key
};

// Every summary pooled into its group's cell.
struct PooledSummaries {
  std::map<std::string, GroupCells> cells;
  std::map<std::string, int64_t> last_tested;
};

Groups GroupDevices(const std::vector<farm::v1::Device>& devices, farm::v1::GroupBy group_by) {
  Groups groups;
  for (const farm::v1::Device& d : devices) {
    const std::string key = GroupKey(d, group_by);
    groups.members[key].push_back(&d);
    groups.group_of[d.device_id()] = key;
  }
  return groups;
}

PooledSummaries PoolSummaries(const std::vector<const store::StoredSummary*>& summaries,
                              const Groups& groups) {
  PooledSummaries pooled;
  for (const store::StoredSummary* summary : summaries) {
    const store::StoredSummary& s = *summary;
    auto group = groups.group_of.find(s.device_id);
    if (group == groups.group_of.end()) continue;
    const farm::v1::Measurement& m = s.measurement;
    CellPools& pools = pooled.cells[group->second][{m.metric(), store::ParametersKeyOf(s)}];
    if (pools.first.metric().empty()) pools.first = m;
    Pool& pool = pools.by_mode[m.mode()];
    pool.values.insert(pool.values.end(), m.values().begin(), m.values().end());
    pool.throttled += static_cast<uint32_t>(m.throttled_repetitions_size());
    pool.requested += s.requested_repetitions;
    pool.sweep_id = s.sweep_id;
    ++pool.summaries;
    pool.task_id = s.task_id;
    pool.intervals = m.has_intervals() ? &m.intervals() : nullptr;
    pool.measured_ns = std::max(pool.measured_ns, s.measured_ns);
    int64_t& last = pooled.last_tested[group->second];
    last = std::max(last, s.measured_ns);
  }
  return pooled;
}

// A guest of another architecture (an arm64 guest under TCG on an x86-64 host)
// keeps its own cell; its native column is the host's native figure of the same
// metric and parameters, so its percentage of native says what running the guest
// costs on this device.
void BorrowHostNative(GroupCells& cells) {
  for (auto& [cell_key, pools] : cells) {
    if (!pools.first.parameters().count(kGuestArchParameter) ||
        pools.by_mode.count(farm::v1::MODE_NATIVE)) {
      continue;
    }
    auto host =
        cells.find({cell_key.first, ParametersKey(pools.first.parameters(), kGuestArchParameter)});
    if (host != cells.end() && host->second.by_mode.count(farm::v1::MODE_NATIVE)) {
      pools.by_mode[farm::v1::MODE_NATIVE] = host->second.by_mode.at(farm::v1::MODE_NATIVE);
    }
  }
}

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
  out->set_throttled_samples(pool.throttled);
  if (std::optional<double> cv = statistics::CoefficientOfVariationPercent(pool.values)) {
    out->set_cv_percent(*cv);
    out->set_noisy(*cv > kNoisyCoefficientOfVariationPercent);
  }
  out->set_sweep_id(pool.sweep_id);
  *out->mutable_measured_at() = TimeUtil::NanosecondsToTimestamp(pool.measured_ns);
}

// The group's identity, verdict (the most common, ties to the better one) with the
// reasons and recommendation of a device that has it, and whether all are fixtures.
void FillGroupVerdict(const std::vector<const farm::v1::Device*>& members,
                      farm::v1::MatrixRow* row) {
  const farm::v1::Device& first = *members.front();
  *row->mutable_identity() = first.identity();
  bool all_fixtures = true;
  std::map<farm::v1::Verdict, int> verdicts;
  for (const farm::v1::Device* d : members) {
    row->add_device_ids(d->device_id());
    all_fixtures = all_fixtures && d->identity().is_fixture();
    ++verdicts[d->capability().verdict()];
    (*row->mutable_verdict_counts())[farm::v1::Verdict_Name(d->capability().verdict())]++;
  }
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
  row->set_verdict(verdict);
  row->set_hypervisor_kind(representative->capability().hypervisor_kind());
  *row->mutable_verdict_reasons() = representative->capability().verdict_reasons();
  row->set_recommendation(representative->capability().recommendation());
  row->set_is_fixture(all_fixtures);
}

// The pool of `mode` when it is one summary's (a device's row), else null.
const Pool* SinglePool(const CellPools& pools, farm::v1::Mode mode) {
  auto it = pools.by_mode.find(mode);
  return it != pools.by_mode.end() && it->second.summaries == 1 ? &it->second : nullptr;
}

// The intervals stored with the guest figures (guest_intervals.h), each only while
// the figure it was computed against is still the cell's.
void FillIntervals(const CellPools& pools, farm::v1::MatrixCell* cell) {
  const Pool* native = SinglePool(pools, farm::v1::MODE_NATIVE);
  const Pool* kvm = SinglePool(pools, farm::v1::MODE_KVM);
  const Pool* tcg = SinglePool(pools, farm::v1::MODE_TCG);
  // The guest's stored percentage of native, if it was against the cell's native.
  auto against_native = [&](const Pool* guest) -> const farm::v1::Interval* {
    if (native == nullptr || guest == nullptr || guest->intervals == nullptr ||
        guest->intervals->native_task_id() != native->task_id ||
        !guest->intervals->has_percent_of_native()) {
      return nullptr;
    }
    return &guest->intervals->percent_of_native();
  };
  if (const farm::v1::Interval* i = against_native(kvm); i && cell->has_kvm_percent_of_native()) {
    *cell->mutable_kvm_percent_of_native_interval() = *i;
  }
  if (const farm::v1::Interval* i = against_native(tcg); i && cell->has_tcg_percent_of_native()) {
    *cell->mutable_tcg_percent_of_native_interval() = *i;
  }
  if (!cell->has_kvm_speedup_over_tcg() || kvm == nullptr || tcg == nullptr) return;
  for (const auto& [guest, other] : {std::pair{kvm, tcg}, std::pair{tcg, kvm}}) {
    if (guest->intervals != nullptr && guest->intervals->other_guest_task_id() == other->task_id &&
        guest->intervals->has_kvm_speedup_over_tcg()) {
      *cell->mutable_kvm_speedup_over_tcg_interval() = guest->intervals->kvm_speedup_over_tcg();
      return;
    }
  }
}

// A cell's aggregates per mode (absent when not measured, never zero), the
// percentages of native and the KVM/TCG speed-up.
void FillCell(const CellPools& pools, farm::v1::MatrixCell* cell) {
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
      cell->set_kvm_percent_of_native(100 *
                                      Better(cell->kvm().median(), cell->native().median(), hib));
    }
    if (cell->has_tcg() && usable(cell->tcg())) {
      cell->set_tcg_percent_of_native(100 *
                                      Better(cell->tcg().median(), cell->native().median(), hib));
    }
  }
  if (cell->has_kvm() && cell->has_tcg() && usable(cell->kvm()) && usable(cell->tcg())) {
    cell->set_kvm_speedup_over_tcg(Better(cell->kvm().median(), cell->tcg().median(), hib));
  }
  FillIntervals(pools, cell);
}

}  // namespace

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

std::vector<farm::v1::MatrixRow> BuildMatrix(const std::vector<farm::v1::Device>& devices,
                                             const std::vector<store::StoredSummary>& summaries,
                                             farm::v1::GroupBy group_by) {
  std::vector<const store::StoredSummary*> pointers;
  pointers.reserve(summaries.size());
  for (const store::StoredSummary& s : summaries) pointers.push_back(&s);
  return BuildMatrix(devices, pointers, group_by);
}

std::vector<farm::v1::MatrixRow> BuildMatrix(
    const std::vector<farm::v1::Device>& devices,
    const std::vector<const store::StoredSummary*>& summaries, farm::v1::GroupBy group_by) {
  const Groups groups = GroupDevices(devices, group_by);
  PooledSummaries pooled = PoolSummaries(summaries, groups);
  for (auto& [group, cells] : pooled.cells) BorrowHostNative(cells);
  std::vector<farm::v1::MatrixRow> rows;
  for (const auto& [key, members] : groups.members) {
    farm::v1::MatrixRow row;
    row.set_key(key);
    FillGroupVerdict(members, &row);
    auto last = pooled.last_tested.find(key);
    if (last != pooled.last_tested.end()) {
      *row.mutable_last_tested() = TimeUtil::NanosecondsToTimestamp(last->second);
    }
    for (const auto& [cell_key, pools] : pooled.cells[key]) FillCell(pools, row.add_cells());
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace kvmfarm::matrix
