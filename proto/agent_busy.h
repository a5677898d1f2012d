// -----------------------------------------------------------------------------
// File: agent_busy.h
// -----------------------------------------------------------------------------
//
// How a busy agent answers, and how a client tells that answer from other errors:
// RESOURCE_EXHAUSTED with a message that starts "busy with job <attempt id>". The
// agent's job slot says it and the controller's scheduler reads it, from this one
// definition. Busy is not a failure of the device (gRPC itself also uses
// RESOURCE_EXHAUSTED, e.g. for a message over its size limit, which is why the
// code alone is not enough).
#ifndef KVMFARM_PROTO_AGENT_BUSY_H_
#define KVMFARM_PROTO_AGENT_BUSY_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

inline constexpr absl::string_view kBusyWithJob = "busy with job ";

// The agent's answer while `job` holds its slot.
inline absl::Status AgentBusyError(const farm::v1::JobInfo& job) {
  return absl::ResourceExhaustedError(
      absl::StrCat(kBusyWithJob, job.attempt_id(), " (", farm::v1::JobKind_Name(job.kind()),
                   job.agent_initiated() ? ", the agent's own" : "",
                   "); one measurement runs at a time, retry later"));
}

// True for an agent's busy answer (as AgentBusyError makes it).
inline bool IsAgentBusy(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted &&
         absl::StartsWith(status.message(), kBusyWithJob);
}

}  // namespace kvmfarm

#endif  // KVMFARM_PROTO_AGENT_BUSY_H_
