// -----------------------------------------------------------------------------
// File: lab_counters.h
// -----------------------------------------------------------------------------
//
// The scheduler's work counted as it happens, for /metrics: a SchedulerObserver
// keeping prometheus-cpp histograms and counters (thread-safe; each call is a few
// atomic adds under the family's lock).
//   kvmfarm_task_queue_wait_seconds{kind}   histogram: sweep created -> first attempt sent
//   kvmfarm_attempt_duration_seconds{kind}  histogram: attempt sent -> it ended
//   kvmfarm_agent_rpc_errors_total{code}    calls to agents that failed, by gRPC code
//   kvmfarm_task_retries_total{kind}        failed attempts tried again
//   kvmfarm_store_write_seconds{method}     histogram: each write to the database
//                                           (StoreWrote, from TimedStore)
//
// Example:
//
//   LabCounters counters;
//   scheduler_options.observer = &counters;
//   ... ControllerMetrics({..., .counters = &counters});
#ifndef KVMFARM_CONTROLLER_HTTP_LAB_COUNTERS_H_
#define KVMFARM_CONTROLLER_HTTP_LAB_COUNTERS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/scheduler/scheduler_observer.h"
#include "controller/store/wrapped_store.h"

namespace kvmfarm::http {

class LabCounters final : public scheduler::SchedulerObserver {
 public:
  LabCounters();

  void FirstDispatched(farm::v1::StepKind kind, absl::Duration waited) override;
  void AttemptEnded(farm::v1::StepKind kind, absl::Duration took) override;
  void AgentCallFailed(absl::StatusCode code) override;
  void Retried(farm::v1::StepKind kind) override;
  // A write to the database (`method`: "StoreTaskResult", ...) took `took`.
  void StoreWrote(const std::string& method, absl::Duration took);

  // Every series, for the exposition.
  std::vector<prometheus::MetricFamily> Collect() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& queue_wait_;
  prometheus::Family<prometheus::Histogram>& attempt_duration_;
  prometheus::Family<prometheus::Counter>& agent_errors_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Histogram>& store_writes_;
};

// The store farm-controller uses, each write timed into `counters`.
class TimedStore final : public store::WrappedStore {
 public:
  TimedStore(store::Store* real, LabCounters* counters) : WrappedStore(real), counters_(counters) {}

 protected:
  void AfterWrite(const std::string& method, absl::Duration took) override {
    counters_->StoreWrote(method, took);
  }

 private:
  LabCounters* const counters_;
};

}  // namespace kvmfarm::http

#endif  // KVMFARM_CONTROLLER_HTTP_LAB_COUNTERS_H_
