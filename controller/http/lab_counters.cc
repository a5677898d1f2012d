#include "controller/http/lab_counters.h"

#include <string>

#include "absl/strings/ascii.h"
#include "common/proto_enum.h"

namespace kvmfarm::http {
namespace {

// Seconds, from a tenth of a second to a day: a capability step takes seconds, a
// benchmark minutes, and a task can wait hours behind a big sweep.
const prometheus::Histogram::BucketBoundaries& Buckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400};
  return *buckets;
}

// Seconds, from half a millisecond (a SQLite commit on a fast disk) to 5 s.
const prometheus::Histogram::BucketBoundaries& StoreBuckets() {
  static const auto* const buckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return *buckets;
}

prometheus::Labels KindLabel(farm::v1::StepKind kind) {
  return {{"kind", LowerEnumValueName(kind)}};
}

}  // namespace

LabCounters::LabCounters()
    : registry_(std::make_shared<prometheus::Registry>()),
      queue_wait_(prometheus::BuildHistogram()
                      .Name("kvmfarm_task_queue_wait_seconds")
                      .Help("From a sweep's creation to its task's first attempt, by step kind.")
                      .Register(*registry_)),
      attempt_duration_(prometheus::BuildHistogram()
                            .Name("kvmfarm_attempt_duration_seconds")
                            .Help("From an attempt sent to an agent to its end, by step kind.")
                            .Register(*registry_)),
      agent_errors_(prometheus::BuildCounter()
                        .Name("kvmfarm_agent_rpc_errors_total")
                        .Help("Calls to agents that failed, by gRPC status code.")
                        .Register(*registry_)),
      retries_(prometheus::BuildCounter()
                   .Name("kvmfarm_task_retries_total")
                   .Help("Failed attempts tried again, by step kind.")
                   .Register(*registry_)),
      store_writes_(prometheus::BuildHistogram()
                        .Name("kvmfarm_store_write_seconds")
                        .Help("Each write to the database, by store method.")
                        .Register(*registry_)) {}

void LabCounters::FirstDispatched(farm::v1::StepKind kind, absl::Duration waited) {
  queue_wait_.Add(KindLabel(kind), Buckets()).Observe(absl::ToDoubleSeconds(waited));
}

void LabCounters::AttemptEnded(farm::v1::StepKind kind, absl::Duration took) {
  attempt_duration_.Add(KindLabel(kind), Buckets()).Observe(absl::ToDoubleSeconds(took));
}

void LabCounters::AgentCallFailed(absl::StatusCode code) {
  agent_errors_.Add({{"code", absl::AsciiStrToLower(absl::StatusCodeToString(code))}}).Increment();
}

void LabCounters::Retried(farm::v1::StepKind kind) { retries_.Add(KindLabel(kind)).Increment(); }

void LabCounters::StoreWrote(const std::string& method, absl::Duration took) {
  store_writes_.Add({{"method", method}}, StoreBuckets()).Observe(absl::ToDoubleSeconds(took));
}

std::vector<prometheus::MetricFamily> LabCounters::Collect() const { return registry_->Collect(); }

}  // namespace kvmfarm::http
