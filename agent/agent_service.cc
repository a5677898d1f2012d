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
    grpc::ServerContext*, const farm::v1::RunBenchmarkRequest*,
    grpc::ServerWriter<farm::v1::RunBenchmarkResponse>*) {
  absl::Status can_measure = CheckCanMeasure();
  if (!can_measure.ok()) return ToGrpcStatus(can_measure);
  return ToGrpcStatus(absl::UnimplementedError(
      "RunBenchmark arrives with the workloads (farm-workload)"));
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
