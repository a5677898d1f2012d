#include "controller/scheduler/agent_error.h"

#include <utility>

#include "absl/strings/cord.h"

namespace kvmfarm::scheduler {
namespace {

constexpr char kRefusalPayload[] = "type.kvmfarm.dev/kvmfarm.scheduler.AgentRefusal";

}  // namespace

absl::Status AgentRefusal(absl::Status status) {
  if (!status.ok()) status.SetPayload(kRefusalPayload, absl::Cord("permanent"));
  return status;
}

bool IsAgentRefusal(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kRefusalPayload).has_value();
}

absl::Status ClassifyAgentStatus(absl::Status status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kNotFound:
      return AgentRefusal(std::move(status));
    default:
      return status;
  }
}

}  // namespace kvmfarm::scheduler
