// -----------------------------------------------------------------------------
// File: controller_metrics.h
// -----------------------------------------------------------------------------
//
// The controller's /metrics (issue 19), in the Prometheus text exposition format,
// made with prometheus-cpp. What describes the lab now is read from the same
// sources as the gRPC API when Prometheus scrapes (the fleet, the store, the
// election), so a series never disagrees with ListDevices or ListControllers;
// counters are kept as things happen.
//
// Series (units in names, `_total` for counters, no per-device series):
//   kvmfarm_build_info{version}                          1
//   kvmfarm_devices_by_operational_state{state}          devices, by IDLE/BUSY/OFFLINE
//   kvmfarm_devices_by_health{health}
//   kvmfarm_devices_by_verdict{verdict}
//   kvmfarm_devices_by_model{model}
//   kvmfarm_sweeps{state}                                queued and running sweeps
//   kvmfarm_tasks{state,kind}                            the tasks of those sweeps
//   kvmfarm_quarantines_total                            devices this replica quarantined
//   kvmfarm_heartbeats_received_total                    by this replica
//   kvmfarm_controller_leader{replica}                   1 while this replica leads
//   kvmfarm_controller_leader_epoch                      the lease's epoch
// and LabCounters' histograms and counters.
//
// Example:
//
//   ControllerMetrics metrics({.fleet = &fleet, .store = store, .election = &election});
//   ASSIGN_OR_RETURN(std::string text, metrics.Render());
#ifndef KVMFARM_CONTROLLER_HTTP_CONTROLLER_METRICS_H_
#define KVMFARM_CONTROLLER_HTTP_CONTROLLER_METRICS_H_

#include <string>

#include "absl/status/statusor.h"
#include "controller/fleet/fleet.h"
#include "controller/http/lab_counters.h"
#include "controller/leadership/leader_election.h"
#include "controller/store/store.h"

namespace kvmfarm::http {

struct MetricsSources {
  const fleet::Fleet* fleet = nullptr;
  store::Store* store = nullptr;
  // Absent: a controller that isn't in an election (no leader series).
  const leadership::LeaderElection* election = nullptr;
  std::string replica;
  // The scheduler's counted work (lab_counters.h); absent: none.
  const LabCounters* counters = nullptr;
};

class ControllerMetrics {
 public:
  explicit ControllerMetrics(MetricsSources sources) : sources_(std::move(sources)) {}

  // Every series as of now, in the text exposition format (version 0.0.4).
  // UNAVAILABLE when the store doesn't answer: a scrape fails rather than report
  // zero sweeps.
  absl::StatusOr<std::string> Render() const;

 private:
  const MetricsSources sources_;
};

// The Content-Type of Render's text.
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace kvmfarm::http

#endif  // KVMFARM_CONTROLLER_HTTP_CONTROLLER_METRICS_H_
