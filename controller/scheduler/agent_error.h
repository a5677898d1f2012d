// -----------------------------------------------------------------------------
// File: agent_error.h
// -----------------------------------------------------------------------------
//
// Whether an agent call that failed is worth trying again, decided where the error
// arises (the agent client) and carried on the status itself, so the scheduler only
// asks. A refusal is permanent: the agent rejected the request itself (a bad or
// unsupported request, a device that can't do it) and would reject it again, and
// the device is not at fault. Everything else is transient: the agent unreachable,
// busy, past its deadline, or its stream cut; another try may succeed.
//
// The mark is a status payload, not a result type: every AgentClient method
// already returns absl::Status / absl::StatusOr, and a payload travels with the
// status through any of them (and any StatusOr copy) without changing a signature.
//
// Example:
//
//   // In an AgentClient: every failed call goes through ClassifyAgentStatus.
//   return ClassifyAgentStatus(FromGrpcStatus(call_status));
//
//   // In the scheduler:
//   if (IsAgentRefusal(outcome.status())) { /* fail the task, don't retry */ }
#ifndef KVMFARM_CONTROLLER_SCHEDULER_AGENT_ERROR_H_
#define KVMFARM_CONTROLLER_SCHEDULER_AGENT_ERROR_H_

#include "absl/status/status.h"

namespace kvmfarm::scheduler {

// `status` (not OK) marked as the agent's refusal: trying again can't help.
absl::Status AgentRefusal(absl::Status status);

// True for a status marked by AgentRefusal (or ClassifyAgentStatus).
bool IsAgentRefusal(const absl::Status& status);

// An agent's answer to a call, classified: the codes an agent uses to refuse a
// request (INVALID_ARGUMENT, FAILED_PRECONDITION, UNIMPLEMENTED, NOT_FOUND) are
// marked as refusals; any other error stays unmarked (transient). OK stays OK.
absl::Status ClassifyAgentStatus(absl::Status status);

}  // namespace kvmfarm::scheduler

#endif  // KVMFARM_CONTROLLER_SCHEDULER_AGENT_ERROR_H_
