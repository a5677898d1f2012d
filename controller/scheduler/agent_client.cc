#include "controller/scheduler/agent_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "controller/scheduler/agent_error.h"

namespace kvmfarm::scheduler {
namespace {

void SetDeadline(grpc::ClientContext* context, absl::Duration deadline) {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
}

// A finished call's status, classified for the scheduler (refusal or transient).
absl::Status CallStatus(const grpc::Status& status) {
  return ClassifyAgentStatus(FromGrpcStatus(status));
}

// Reads a job's stream to its result.
template <typename Result, typename Response>
absl::StatusOr<Result> ReadJob(grpc::ClientReaderInterface<Response>* reader,
                               const ProgressCallback& on_progress) {
  Response response;
  absl::optional<Result> result;
  while (reader->Read(&response)) {
    if (response.has_progress() && on_progress) on_progress(response.progress());
    if (response.has_result()) result = response.result();
  }
  RETURN_IF_ERROR(CallStatus(reader->Finish()));
  if (!result) return absl::UnavailableError("the agent's stream ended without a result");
  return *std::move(result);
}

}  // namespace

void GrpcAgentClient::Track(const std::string& attempt_id, grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  calls_[attempt_id] = context;
}

void GrpcAgentClient::Untrack(const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  calls_.erase(attempt_id);
}

absl::StatusOr<farm::v1::AgentService::Stub*> GrpcAgentClient::Stub(const std::string& address) {
  std::string device_id;
  if (security_.device_at) {
    ASSIGN_OR_RETURN(device_id, security_.device_at(address));
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<farm::v1::AgentService::Stub>& stub = stubs_[device_id + "@" + address];
  if (!stub) {
    stub = farm::v1::AgentService::NewStub(
        grpc::CreateChannel(address, security_.credentials ? security_.credentials(device_id)
                                                           : grpc::InsecureChannelCredentials()));
  }
  return stub.get();
}

absl::StatusOr<farm::v1::KvmCapability> GrpcAgentClient::GetCapability(const std::string& address,
                                                                       bool boot_check,
                                                                       absl::Duration deadline) {
  ASSIGN_OR_RETURN(farm::v1::AgentService::Stub* const stub, Stub(address));
  grpc::ClientContext context;
  SetDeadline(&context, deadline);
  farm::v1::GetCapabilityRequest request;
  request.set_refresh(true);
  request.set_boot_check(boot_check);
  farm::v1::GetCapabilityResponse response;
  RETURN_IF_ERROR(CallStatus(stub->GetCapability(&context, request, &response)));
  return response.capability();
}

absl::StatusOr<farm::v1::BenchmarkResult> GrpcAgentClient::RunBenchmark(
    const std::string& address, const farm::v1::RunBenchmarkRequest& request,
    absl::Duration deadline, const ProgressCallback& on_progress) {
  ASSIGN_OR_RETURN(farm::v1::AgentService::Stub* const stub, Stub(address));
  grpc::ClientContext context;
  SetDeadline(&context, deadline);
  Track(request.attempt_id(), &context);
  farm::v1::RunBenchmarkRequest fenced = request;
  fenced.set_leader_epoch(leader_epoch_.load());
  auto reader = stub->RunBenchmark(&context, fenced);
  absl::StatusOr<farm::v1::BenchmarkResult> result =
      ReadJob<farm::v1::BenchmarkResult>(reader.get(), on_progress);
  Untrack(request.attempt_id());
  return result;
}

absl::StatusOr<farm::v1::BootResult> GrpcAgentClient::BootVm(const std::string& address,
                                                             const farm::v1::BootVmRequest& request,
                                                             absl::Duration deadline,
                                                             const ProgressCallback& on_progress) {
  ASSIGN_OR_RETURN(farm::v1::AgentService::Stub* const stub, Stub(address));
  grpc::ClientContext context;
  SetDeadline(&context, deadline);
  Track(request.attempt_id(), &context);
  farm::v1::BootVmRequest fenced = request;
  fenced.set_leader_epoch(leader_epoch_.load());
  auto reader = stub->BootVm(&context, fenced);
  absl::StatusOr<farm::v1::BootResult> result =
      ReadJob<farm::v1::BootResult>(reader.get(), on_progress);
  Untrack(request.attempt_id());
  return result;
}

absl::StatusOr<farm::v1::GetStatusResponse> GrpcAgentClient::GetStatus(const std::string& address) {
  ASSIGN_OR_RETURN(farm::v1::AgentService::Stub* const stub, Stub(address));
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(5));
  farm::v1::GetStatusResponse response;
  RETURN_IF_ERROR(CallStatus(stub->GetStatus(&context, farm::v1::GetStatusRequest(), &response)));
  return response;
}

absl::Status GrpcAgentClient::Cancel(const std::string& address, const std::string& attempt_id) {
  {
    // Closing our stream cancels the job on the agent, whenever it starts there.
    absl::MutexLock lock(&mu_);
    auto call = calls_.find(attempt_id);
    if (call != calls_.end()) call->second->TryCancel();
  }
  ASSIGN_OR_RETURN(farm::v1::AgentService::Stub* const stub, Stub(address));
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(5));
  farm::v1::CancelRequest request;
  request.set_attempt_id(attempt_id);
  request.set_leader_epoch(leader_epoch_.load());
  farm::v1::CancelResponse response;
  return CallStatus(stub->Cancel(&context, request, &response));
}

}  // namespace kvmfarm::scheduler
