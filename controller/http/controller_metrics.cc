#include "controller/http/controller_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <utility>
#include <vector>

#include "common/proto_enum.h"
#include "common/status_macros.h"
#include "common/version.h"

namespace kvmfarm::http {
namespace {

// One gauge family with a series per value of `label`, from `counts`.
void AddCounts(prometheus::Registry& registry, const std::string& name, const std::string& help,
               const std::string& label, const std::map<std::string, int64_t>& counts) {
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  for (const auto& [value, count] : counts) {
    family.Add({{label, value}}).Set(static_cast<double>(count));
  }
}

}  // namespace

absl::StatusOr<std::string> ControllerMetrics::Render() const {
  // A registry per scrape: a state no device is in any more has no series.
  prometheus::Registry registry;
  prometheus::BuildGauge()
      .Name("kvmfarm_build_info")
      .Help("The farm-controller build, as a label; always 1.")
      .Register(registry)
      .Add({{"version", kKvmfarmVersion}})
      .Set(1);

  const fleet::FleetCensus census = sources_.fleet->Census();
  AddCounts(registry, "kvmfarm_devices_by_operational_state",
            "Devices by operational state (idle, busy, offline).", "state",
            census.by_operational_state);
  AddCounts(registry, "kvmfarm_devices_by_health", "Devices by health.", "health",
            census.by_health);
  AddCounts(registry, "kvmfarm_devices_by_verdict", "Devices by KVM verdict.", "verdict",
            census.by_verdict);
  AddCounts(registry, "kvmfarm_devices_by_model", "Devices by model.", "model", census.by_model);

  store::SweepListQuery unfinished;
  unfinished.states = {farm::v1::SWEEP_STATE_QUEUED, farm::v1::SWEEP_STATE_RUNNING};
  unfinished.limit = 100000;
  absl::StatusOr<std::vector<farm::v1::Sweep>> sweeps = sources_.store->ListSweeps(unfinished);
  if (!sweeps.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the database didn't answer: ", sweeps.status().message()));
  }
  std::map<std::string, int64_t> by_sweep_state = {{"queued", 0}, {"running", 0}};
  std::map<std::pair<std::string, std::string>, int64_t> tasks;
  for (const farm::v1::Sweep& summary : *sweeps) {
    ++by_sweep_state[LowerEnumValueName(summary.state())];
    absl::StatusOr<farm::v1::Sweep> sweep = sources_.store->GetSweep(summary.sweep_id(), false);
    if (!sweep.ok()) continue;  // ended and pruned meanwhile
    for (const farm::v1::Task& task : sweep->tasks()) {
      ++tasks[{LowerEnumValueName(task.state()), LowerEnumValueName(task.kind())}];
    }
  }
  AddCounts(registry, "kvmfarm_sweeps", "Sweeps not yet ended, by state.", "state", by_sweep_state);
  auto& task_family = prometheus::BuildGauge()
                          .Name("kvmfarm_tasks")
                          .Help("Tasks of the sweeps not yet ended, by state and step kind.")
                          .Register(registry);
  for (const auto& [state_and_kind, count] : tasks) {
    task_family.Add({{"state", state_and_kind.first}, {"kind", state_and_kind.second}})
        .Set(static_cast<double>(count));
  }
  prometheus::BuildCounter()
      .Name("kvmfarm_quarantines_total")
      .Help("Devices this replica quarantined (repeated infrastructure failures).")
      .Register(registry)
      .Add({})
      .Increment(static_cast<double>(sources_.fleet->quarantines()));

  prometheus::BuildCounter()
      .Name("kvmfarm_heartbeats_received_total")
      .Help("Agent heartbeats this replica received since it started.")
      .Register(registry)
      .Add({})
      .Increment(static_cast<double>(sources_.fleet->heartbeats_received()));

  if (sources_.election != nullptr) {
    prometheus::BuildGauge()
        .Name("kvmfarm_controller_leader")
        .Help("1 while this replica leads the controllers on its database, else 0.")
        .Register(registry)
        .Add({{"replica", sources_.replica}})
        .Set(sources_.election->IsLeader() ? 1 : 0);
    prometheus::BuildGauge()
        .Name("kvmfarm_controller_leader_epoch")
        .Help("The fencing epoch of the lease as this replica last saw it.")
        .Register(registry)
        .Add({})
        .Set(static_cast<double>(sources_.election->Current().epoch));
  }
  std::vector<prometheus::MetricFamily> families = registry.Collect();
  if (sources_.counters != nullptr) {
    for (prometheus::MetricFamily& family : sources_.counters->Collect()) {
      families.push_back(std::move(family));
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace kvmfarm::http
