// -----------------------------------------------------------------------------
// File: agent_service.h
// -----------------------------------------------------------------------------
//
// farm.v1.AgentService as served by farm-agent: a thin layer that turns requests
// into calls of the probe, the native benchmark, the in-guest workloads and the
// boot job, and their results into replies. GetCapability answers from a cached
// probe unless asked to refresh; GetStatus always answers.
//
// GetCapability, GetStatus and Cancel use gRPC's callback API (issue 15): GetStatus
// and Cancel answer inline, and a refresh joins the one probe in flight
// (SharedProbe, on a worker thread of the agent's) without holding a server thread
// while it waits. A caller that cancels or passes its deadline leaves at once. The
// streams (RunBenchmark, BootVm) stay synchronous: the job slot admits one, and
// refuses the others before any work.
#ifndef KVMFARM_AGENT_AGENT_SERVICE_H_
#define KVMFARM_AGENT_AGENT_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/job_runner.h"
#include "agent/job_slot.h"
#include "agent/native_benchmark.h"
#include "agent/probe/probe.h"
#include "agent/shared_probe.h"
#include "agent/vm/boot.h"
#include "common/version.h"
#include "farm/v1/agent.grpc.pb.h"

namespace kvmfarm {

struct AgentConfig {
  probe::ProbeOptions probe;
  std::string version = kKvmfarmVersion;
  std::string listen_address;
  // How native benchmarks run; workload_binary empty = farm-workload not found.
  NativeBenchmarkOptions native;
  // How guests boot (image directory, QEMU).
  vm::BootJobOptions vm;
  // The probe; tests replace it to count or hold its runs.
  std::function<absl::StatusOr<farm::v1::KvmCapability>(const probe::ProbeOptions&)> run_probe =
      probe::RunProbe;
};

// GetCapability, GetStatus and Cancel on the callback API, the streams synchronous.
using AgentServiceBase = farm::v1::AgentService::WithCallbackMethod_GetCapability<
    farm::v1::AgentService::WithCallbackMethod_GetStatus<
        farm::v1::AgentService::WithCallbackMethod_Cancel<farm::v1::AgentService::Service>>>;

class AgentServiceImpl final : public AgentServiceBase {
 public:
  explicit AgentServiceImpl(AgentConfig config);
  ~AgentServiceImpl() override;

  // Runs the probe now so the first GetCapability answers at once. The probe's
  // error (a bad --sysroot or --props) is fatal at start-up.
  absl::Status Initialize();

  // Whether a measurement job is running, and which.
  bool busy() const { return job_slot_.Current().has_value(); }
  absl::optional<farm::v1::JobInfo> CurrentJob() const { return job_slot_.Current(); }
  // The cached capability (with the boot check once it ran), and this agent.
  farm::v1::KvmCapability Capability();
  farm::v1::AgentInfo Info() const;

  // Runs the KVM boot check in the background (once per agent start), so the
  // cached capability gets its real verdict without slowing GetCapability. The job
  // slot is taken before this returns (so a registration made next reports the
  // agent busy with its own check); `on_done` runs once the slot is free again.
  void StartBackgroundBootCheck(std::function<void()> on_done = nullptr);
  // Cancels whatever job runs and waits for the background check; before shutdown.
  void StopJobs();

  // How many refresh probes have started since Initialize (tests, benchmarks).
  int64_t refresh_probes_started() const { return shared_probe_.probes_started(); }
  // How many GetCapability{refresh} calls wait for the probe in flight.
  int refresh_callers_waiting() const { return shared_probe_.waiting(); }

  grpc::ServerUnaryReactor* GetCapability(grpc::CallbackServerContext* context,
                                          const farm::v1::GetCapabilityRequest* request,
                                          farm::v1::GetCapabilityResponse* response) override;
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const farm::v1::GetStatusRequest* request,
                                      farm::v1::GetStatusResponse* response) override;
  grpc::Status RunBenchmark(grpc::ServerContext* context,
                            const farm::v1::RunBenchmarkRequest* request,
                            grpc::ServerWriter<farm::v1::RunBenchmarkResponse>* writer) override;
  grpc::Status BootVm(grpc::ServerContext* context, const farm::v1::BootVmRequest* request,
                      grpc::ServerWriter<farm::v1::BootVmResponse>* writer) override;
  grpc::ServerUnaryReactor* Cancel(grpc::CallbackServerContext* context,
                                   const farm::v1::CancelRequest* request,
                                   farm::v1::CancelResponse* response) override;

 private:
  class CapabilityReactor;

  // The probe run for refreshes; caches its capability.
  absl::StatusOr<farm::v1::KvmCapability> ProbeAndCache();
  // Starts `work` on the background thread (after the previous one ended): the
  // boot checks, at most one at a time since each holds the job slot.
  void RunInBackground(std::function<void()> work);
  // FAILED_PRECONDITION for measurement jobs on a fixture tree.
  absl::Status CheckCanMeasure() const;
  // The checks before a job runs (fixture tree, a valid request, an image and
  // farm-workload where needed); then the job slot, or why not.
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> AdmitBenchmark(
      const farm::v1::RunBenchmarkRequest& request);
  absl::StatusOr<std::unique_ptr<JobSlot::Lease>> AdmitBoot(const farm::v1::BootVmRequest& request);
  // Natively, in a guest, or both (then merged).
  // Stamps the agent's version and the device's build and kernel.
  void StampProvenance(farm::v1::Provenance* provenance) ABSL_LOCKS_EXCLUDED(mu_);
  farm::v1::BenchmarkResult RunBenchmarkJob(const farm::v1::RunBenchmarkRequest& request,
                                            const JobContext& job);
  // Probes again and runs the boot check, holding the job slot; the new capability.
  // A fresh probe with the boot check, run under `lease`; cached as the capability.
  absl::StatusOr<farm::v1::KvmCapability> ProbeWithBootCheck(JobSlot::Lease* lease);

  const AgentConfig config_;
  const absl::Time started_at_;
  // The one measurement job that may run (RunBenchmark, BootVm).
  JobSlot job_slot_;
  absl::Mutex mu_;
  farm::v1::KvmCapability capability_ ABSL_GUARDED_BY(mu_);
  absl::Mutex background_mu_;
  std::thread background_ ABSL_GUARDED_BY(background_mu_);
  // Last member: destroyed first, while the members its probe uses remain.
  SharedProbe shared_probe_;
};

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_AGENT_SERVICE_H_
