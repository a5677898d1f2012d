#include "agent/agent_service.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/job_runner.h"
#include "agent/native_comparison.h"
#include "agent/probe/boot_check.h"
#include "agent/probe/capability_text.h"
#include "agent/vm/guest_workloads.h"
#include "agent/vm/image.h"
#include "agent/work_dir.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/proto_enum.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "common/version.h"
#include "workloads/catalog.h"

namespace kvmfarm {
namespace {

// The boot check's attempt id, whoever asked for it.
constexpr char kBootCheckAttempt[] = "kvm-boot-check";

// A job started by a streaming RPC: progress goes on the stream as `response`
// with its progress set; the client is gone once the call is cancelled.
template <typename Response>
JobContext StreamingJob(grpc::ServerContext* context, JobSlot::Lease* lease,
                        grpc::ServerWriter<Response>* writer, Response* response) {
  JobContext job;
  job.lease = lease;
  job.client_gone = [context] { return context->IsCancelled(); };
  job.on_progress = [writer, response](const farm::v1::Progress& progress) {
    *response->mutable_progress() = progress;
    writer->Write(*response);
  };
  return job;
}

// The io workload's file, natively or as a guest's scratch disk, goes in the work
// directory: refused before anything is written when the largest would leave the
// device short of space (one io file exists at a time).
absl::Status CheckRoomForIo(const farm::v1::RunBenchmarkRequest& request,
                            const std::string& work_dir) {
  uint64_t largest = 0;
  for (const farm::v1::WorkloadSpec& spec : request.workloads()) {
    if (spec.name() != "io") continue;
    ASSIGN_OR_RETURN(const workloads::WorkloadParameters io, workloads::ResolveWorkloadSpec(spec));
    largest = std::max(largest, io.size_bytes);
  }
  if (largest == 0) return absl::OkStatus();
  return CheckRoomToWrite(work_dir, largest, "the io workload");
}

// A callback call answered inline: it never holds a thread.
grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* context,
                                    const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace

// One GetCapability call answered later, by the shared probe or a boot check, or at
// once with CANCELLED when its client goes (cancel, deadline). gRPC (OnDone) and
// the answer each hold a reference; the last to let go deletes it.
class AgentServiceImpl::CapabilityReactor final : public grpc::ServerUnaryReactor {
 public:
  CapabilityReactor(AgentServiceImpl* service, farm::v1::GetCapabilityResponse* response)
      : service_(service), response_(response) {}

  // Waits for the probe in flight (or one started now); called before the handler
  // returns, so before any OnCancel.
  void JoinSharedProbe() {
    ticket_ = service_->shared_probe_.Join(
        [this](const SharedProbe::Result& capability) { Answer(capability); });
  }

  // Called once by whoever answers; lets go of the reactor.
  void Answer(const absl::StatusOr<farm::v1::KvmCapability>& capability) {
    FinishOnce(capability.ok() ? grpc::Status::OK : ToGrpcStatus(capability.status()),
               capability.ok() ? &*capability : nullptr);
    Unref();
  }

  void OnCancel() override {
    // Left before the probe answered: the answer will never come, so let go for it.
    if (ticket_.has_value() && service_->shared_probe_.Leave(*ticket_)) Unref();
    FinishOnce(grpc::Status::CANCELLED, nullptr);
  }
  void OnDone() override { Unref(); }

 private:
  void FinishOnce(const grpc::Status& status, const farm::v1::KvmCapability* capability) {
    if (finished_.exchange(true)) return;
    if (capability != nullptr) {
      *response_->mutable_capability() = *capability;
      *response_->mutable_agent() = service_->Info();
    }
    Finish(status);
  }
  void Unref() {
    if (references_.fetch_sub(1) == 1) delete this;
  }

  AgentServiceImpl* const service_;
  farm::v1::GetCapabilityResponse* const response_;
  absl::optional<SharedProbe::Ticket> ticket_;
  std::atomic<bool> finished_{false};
  std::atomic<int> references_{2};
};

AgentServiceImpl::AgentServiceImpl(AgentConfig config)
    : config_(std::move(config)),
      started_at_(absl::Now()),
      shared_probe_([this] { return ProbeAndCache(); }) {}

absl::StatusOr<farm::v1::KvmCapability> AgentServiceImpl::ProbeAndCache() {
  ASSIGN_OR_RETURN(farm::v1::KvmCapability fresh, config_.run_probe(config_.probe));
  absl::MutexLock lock(&mu_);
  capability_ = fresh;
  return fresh;
}

absl::Status AgentServiceImpl::Initialize() {
  ASSIGN_OR_RETURN(farm::v1::KvmCapability capability, config_.run_probe(config_.probe));
  absl::MutexLock lock(&mu_);
  capability_ = std::move(capability);
  return absl::OkStatus();
}

farm::v1::AgentInfo AgentServiceImpl::Info() const {
  farm::v1::AgentInfo info;
  info.set_version(config_.version);
  info.set_api_version(kAgentApiVersion);
  *info.mutable_started_at() = ToProtoTimestamp(started_at_);
  *info.mutable_uptime() = ToProtoDuration(absl::Now() - started_at_);
  info.set_listen_address(config_.listen_address);
  return info;
}

absl::Status AgentServiceImpl::CheckCanMeasure() const {
  if (config_.probe.sysroot != "/" && !config_.probe.sysroot.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("this agent reads the fixture tree ", config_.probe.sysroot,
                     ": measurements would be this host's numbers labelled as the fixture device; "
                     "start farm-agent without --sysroot to measure"));
  }
  return absl::OkStatus();
}

absl::StatusOr<farm::v1::KvmCapability> AgentServiceImpl::ProbeWithBootCheck(
    JobSlot::Lease* lease) {
  ASSIGN_OR_RETURN(farm::v1::KvmCapability fresh, config_.run_probe(config_.probe));
  probe::RunKvmBootCheck(config_.vm, lease, &fresh);
  absl::MutexLock lock(&mu_);
  capability_ = fresh;
  return fresh;
}

void AgentServiceImpl::StartBackgroundBootCheck(std::function<void()> on_done) {
  if (!CheckCanMeasure().ok()) return;
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
      job_slot_.Acquire(kBootCheckAttempt, farm::v1::JOB_KIND_BOOT_CHECK, JobSlot::Origin::kAgent);
  if (!lease.ok()) {
    FARM_LOG(WARNING) << "boot check not run: " << lease.status().message();
    return;
  }
  RunInBackground([this, held = std::shared_ptr<JobSlot::Lease>(*std::move(lease)),
                   on_done = std::move(on_done)]() mutable {
    absl::StatusOr<farm::v1::KvmCapability> checked = ProbeWithBootCheck(held.get());
    held.reset();  // free before anyone hears the agent is
    if (checked.ok()) {
      FARM_LOG(INFO) << "boot check: " << EnumValueName(checked->verdict());
    } else {
      FARM_LOG(WARNING) << "boot check not run: " << checked.status().message();
    }
    if (on_done) on_done();
  });
}

void AgentServiceImpl::RunInBackground(std::function<void()> work) {
  absl::MutexLock lock(&background_mu_);
  // The previous one has freed the job slot (or this one could not have it): it is
  // ending, if not gone.
  if (background_.joinable()) background_.join();
  background_ = std::thread(std::move(work));
}

farm::v1::KvmCapability AgentServiceImpl::Capability() {
  absl::MutexLock lock(&mu_);
  return capability_;
}

void AgentServiceImpl::StopJobs() {
  if (absl::optional<farm::v1::JobInfo> job = job_slot_.Current()) {
    job_slot_.Cancel(job->attempt_id()).IgnoreError();
  }
  absl::MutexLock lock(&background_mu_);
  if (background_.joinable()) background_.join();
}

AgentServiceImpl::~AgentServiceImpl() { StopJobs(); }

grpc::ServerUnaryReactor* AgentServiceImpl::GetCapability(
    grpc::CallbackServerContext* context, const farm::v1::GetCapabilityRequest* request,
    farm::v1::GetCapabilityResponse* response) {
  // A fixture tree can't boot anything: there the boot check is only a refresh (its
  // capability says why no guest was booted).
  if (request->boot_check() && CheckCanMeasure().ok()) {
    absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease =
        job_slot_.Acquire(kBootCheckAttempt, farm::v1::JOB_KIND_BOOT_CHECK);
    if (!lease.ok()) return AnswerNow(context, ToGrpcStatus(lease.status()));
    // Its own thread, not gRPC's: one at most, since it holds the job slot.
    auto* reactor = new CapabilityReactor(this, response);
    RunInBackground(
        [this, reactor, held = std::shared_ptr<JobSlot::Lease>(*std::move(lease))]() mutable {
          const absl::StatusOr<farm::v1::KvmCapability> checked = ProbeWithBootCheck(held.get());
          held.reset();
          reactor->Answer(checked);
        });
    return reactor;
  }
  if (request->refresh() || request->boot_check()) {
    auto* reactor = new CapabilityReactor(this, response);
    reactor->JoinSharedProbe();
    return reactor;
  }
  {
    absl::MutexLock lock(&mu_);
    *response->mutable_capability() = capability_;
  }
  *response->mutable_agent() = Info();
  return AnswerNow(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* AgentServiceImpl::GetStatus(grpc::CallbackServerContext* context,
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
  return AnswerNow(context, grpc::Status::OK);
}

absl::StatusOr<std::unique_ptr<JobSlot::Lease>> AgentServiceImpl::AdmitBenchmark(
    const farm::v1::RunBenchmarkRequest& request) {
  RETURN_IF_ERROR(job_slot_.AdmitLeaderEpoch(request.leader_epoch()));
  RETURN_IF_ERROR(CheckCanMeasure());
  RETURN_IF_ERROR(ValidateBenchmarkRequest(request));
  const bool in_guest = request.mode() != farm::v1::MODE_NATIVE;
  if (in_guest) {
    RETURN_IF_ERROR(
        vm::ResolveImage(config_.vm.image_dir, vm::GuestImageName(request.guest())).status());
  }
  RETURN_IF_ERROR(CheckRoomForIo(request, config_.native.work_dir));
  if (config_.native.workload_binary.empty() && (!in_guest || request.compare_with_native())) {
    return absl::FailedPreconditionError(
        "farm-workload was not found next to farm-agent or in PATH; start the agent with "
        "--farm-workload=PATH");
  }
  return job_slot_.Acquire(request.attempt_id(), farm::v1::JOB_KIND_BENCHMARK);
}

absl::StatusOr<std::unique_ptr<JobSlot::Lease>> AgentServiceImpl::AdmitBoot(
    const farm::v1::BootVmRequest& request) {
  RETURN_IF_ERROR(job_slot_.AdmitLeaderEpoch(request.leader_epoch()));
  RETURN_IF_ERROR(CheckCanMeasure());
  RETURN_IF_ERROR(vm::ValidateBootRequest(request, config_.vm));
  return job_slot_.Acquire(request.attempt_id(), farm::v1::JOB_KIND_BOOT);
}

farm::v1::BenchmarkResult AgentServiceImpl::RunBenchmarkJob(
    const farm::v1::RunBenchmarkRequest& request, const JobContext& job) {
  NativeBenchmarkOptions native = config_.native;
  {
    absl::MutexLock lock(&mu_);
    native.build_fingerprint = capability_.device().build_fingerprint();
  }
  native.agent_version = config_.version;
  farm::v1::BenchmarkResult result;
  if (request.mode() == farm::v1::MODE_NATIVE) {
    result = RunNativeBenchmark(request, native, job);
  } else {
    farm::v1::BenchmarkResult native_result;
    if (request.compare_with_native()) native_result = RunNativeBenchmark(request, native, job);
    result = vm::RunWorkloadsInGuest(request, config_.vm, job);
    if (request.compare_with_native()) MergeNative(native_result, &result);
  }
  StampProvenance(result.mutable_provenance());
  return result;
}

// Every figure says which agent, device build and kernel measured it (a guest's
// QEMU and image are the VM code's to say).
void AgentServiceImpl::StampProvenance(farm::v1::Provenance* provenance) {
  absl::MutexLock lock(&mu_);
  provenance->set_agent_version(config_.version);
  provenance->set_build_fingerprint(capability_.device().build_fingerprint());
  provenance->set_kernel_release(capability_.device().kernel_release());
}

grpc::Status AgentServiceImpl::RunBenchmark(
    grpc::ServerContext* context, const farm::v1::RunBenchmarkRequest* request,
    grpc::ServerWriter<farm::v1::RunBenchmarkResponse>* writer) {
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease = AdmitBenchmark(*request);
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  FARM_LOG(INFO) << "benchmark " << request->attempt_id() << ": " << request->workloads_size()
                 << " workloads x " << std::max<uint32_t>(1, request->repetitions());
  farm::v1::RunBenchmarkResponse response;
  response.set_attempt_id(request->attempt_id());
  farm::v1::BenchmarkResult result =
      RunBenchmarkJob(*request, StreamingJob(context, lease->get(), writer, &response));
  FARM_LOG(INFO) << "benchmark " << request->attempt_id() << ": "
                 << (result.succeeded() ? "done" : result.failure_reason());
  *response.mutable_result() = std::move(result);
  writer->Write(response);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::BootVm(grpc::ServerContext* context,
                                      const farm::v1::BootVmRequest* request,
                                      grpc::ServerWriter<farm::v1::BootVmResponse>* writer) {
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> lease = AdmitBoot(*request);
  if (!lease.ok()) return ToGrpcStatus(lease.status());
  FARM_LOG(INFO) << "boot " << request->attempt_id() << ": " << std::max(1u, request->vm_count())
                 << " x " << request->guest().image() << " under "
                 << farm::v1::Mode_Name(request->accel());
  farm::v1::BootVmResponse response;
  response.set_attempt_id(request->attempt_id());
  farm::v1::BootResult result =
      vm::RunBootJob(*request, config_.vm, StreamingJob(context, lease->get(), writer, &response));
  StampProvenance(result.mutable_provenance());
  FARM_LOG(INFO) << "boot " << request->attempt_id() << ": "
                 << (result.succeeded() ? "done" : result.failure_reason());
  *response.mutable_result() = std::move(result);
  writer->Write(response);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AgentServiceImpl::Cancel(grpc::CallbackServerContext* context,
                                                   const farm::v1::CancelRequest* request,
                                                   farm::v1::CancelResponse* response) {
  absl::Status cancelled = job_slot_.AdmitLeaderEpoch(request->leader_epoch());
  if (cancelled.ok()) cancelled = job_slot_.Cancel(request->attempt_id());
  if (cancelled.ok()) response->set_attempt_id(request->attempt_id());
  return AnswerNow(context, ToGrpcStatus(cancelled));
}

}  // namespace kvmfarm
