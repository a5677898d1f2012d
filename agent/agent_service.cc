#include "agent/agent_service.h"

#include <google/protobuf/util/time_util.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/logging.h"

namespace kvmfarm {
namespace {

using google::protobuf::util::TimeUtil;

}  // namespace

AgentServiceImpl::AgentServiceImpl(AgentConfig config)
    : config_(std::move(config)), started_at_(absl::Now()) {}

absl::Status AgentServiceImpl::Initialize() {
  absl::StatusOr<farm::v1::KvmCapability> capability = probe::RunProbe(config_.probe);
  if (!capability.ok()) return capability.status();
  absl::MutexLock lock(&mu_);
  capability_ = *std::move(capability);
  return absl::OkStatus();
}

farm::v1::AgentInfo AgentServiceImpl::Info() const {
  farm::v1::AgentInfo info;
  info.set_version(config_.version);
  *info.mutable_started_at() =
      TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(started_at_));
  *info.mutable_uptime() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(absl::Now() - started_at_));
  info.set_listen_address(config_.listen_address);
  return info;
}

absl::Status AgentServiceImpl::CheckCanMeasure() const {
  if (config_.probe.sysroot != "/" && !config_.probe.sysroot.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this agent reads the fixture tree ", config_.probe.sysroot,
        ": measurements would be this host's numbers labelled as the fixture device; "
        "start farm-agent without --sysroot to measure"));
  }
  return absl::OkStatus();
}

grpc::Status AgentServiceImpl::GetCapability(grpc::ServerContext*,
                                             const farm::v1::GetCapabilityRequest* request,
                                             farm::v1::GetCapabilityResponse* response) {
  if (request->boot_check()) {
    return ToGrpcStatus(absl::UnimplementedError(
        "boot_check: the guest boot under KVM arrives with the guest images; "
        "until then the verdict stops at KVM_BOOT_UNTESTED"));
  }
  if (request->refresh()) {
    absl::StatusOr<farm::v1::KvmCapability> fresh = probe::RunProbe(config_.probe);
    if (!fresh.ok()) return ToGrpcStatus(fresh.status());
    absl::MutexLock lock(&mu_);
    capability_ = *std::move(fresh);
  }
  {
    absl::MutexLock lock(&mu_);
    *response->mutable_capability() = capability_;
  }
  *response->mutable_agent() = Info();
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::GetStatus(grpc::ServerContext*,
                                         const farm::v1::GetStatusRequest*,
                                         farm::v1::GetStatusResponse* response) {
  *response->mutable_agent() = Info();
  {
    absl::MutexLock lock(&mu_);
    response->set_device_id(capability_.device().device_id());
  }
  response->set_is_fixture(!CheckCanMeasure().ok());
  if (absl::optional<farm::v1::JobInfo> job = job_slot_.Current()) {
    *response->mutable_busy_job() = *job;
  }
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::RunBenchmark(
    grpc::ServerContext* context, const farm::v1::RunBenchmarkRequest* request,
    grpc::ServerWriter<farm::v1::RunBenchmarkResponse>* writer) {
  absl::Status can_measure = CheckCanMeasure();
  if (!can_measure.ok()) return ToGrpcStatus(can_measure);
  absl::Status valid = ValidateBenchmarkRequest(*request);
  if (!valid.ok()) return ToGrpcStatus(valid);
  if (request->mode() != farm::v1::MODE_NATIVE) {
    return ToGrpcStatus(absl::UnimplementedError(
        "mode: MODE_KVM and MODE_TCG arrive with the guest images; MODE_NATIVE works"));
  }
  NativeBenchmarkOptions native = config_.native;
  if (native.workload_binary.empty()) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        "farm-workload was not found next to farm-agent or in PATH; start the agent with "
        "--farm-workload=PATH"));
  }
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
      job_slot_.Acquire(request->attempt_id(), farm::v1::JOB_KIND_BENCHMARK);
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  {
    absl::MutexLock lock(&mu_);
    native.build_fingerprint = capability_.device().build_fingerprint();
  }
  native.agent_version = config_.version;
  FARM_LOG(INFO) << "benchmark " << request->attempt_id() << ": "
                 << request->workloads_size() << " workloads x "
                 << std::max<uint32_t>(1, request->repetitions());
  farm::v1::RunBenchmarkResponse response;
  response.set_attempt_id(request->attempt_id());
  farm::v1::BenchmarkResult result = RunNativeBenchmark(
      *request, native, lease->get(), [context] { return context->IsCancelled(); },
      [&writer, &response](const farm::v1::Progress& progress) {
        *response.mutable_progress() = progress;
        writer->Write(response);
      });
  FARM_LOG(INFO) << "benchmark " << request->attempt_id() << ": "
                 << (result.succeeded() ? "done" : result.failure_reason());
  *response.mutable_result() = std::move(result);
  writer->Write(response);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::BootVm(grpc::ServerContext*,
                                      const farm::v1::BootVmRequest*,
                                      grpc::ServerWriter<farm::v1::BootVmResponse>*) {
  absl::Status can_measure = CheckCanMeasure();
  if (!can_measure.ok()) return ToGrpcStatus(can_measure);
  return ToGrpcStatus(
      absl::UnimplementedError("BootVm arrives with the guest images and VM runner"));
}

grpc::Status AgentServiceImpl::Cancel(grpc::ServerContext*,
                                      const farm::v1::CancelRequest* request,
                                      farm::v1::CancelResponse* response) {
  absl::Status cancelled = job_slot_.Cancel(request->attempt_id());
  if (!cancelled.ok()) return ToGrpcStatus(cancelled);
  response->set_attempt_id(request->attempt_id());
  return grpc::Status::OK;
}

}  // namespace kvmfarm
