#include "agent/vm/boot.h"

#include <google/protobuf/util/json_util.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/job_runner.h"
#include "agent/vm/boot_stages.h"
#include "agent/vm/image.h"
#include "agent/vm/provenance.h"
#include "agent/vm/qemu_memory.h"
#include "agent/vm/qmp.h"
#include "agent/vm/vm.h"
#include "common/limits.h"
#include "common/logging.h"
#include "common/measurement.h"
#include "common/proto_time.h"
#include "common/status_macros.h"

namespace kvmfarm::vm {
namespace {

// A directory for QMP sockets in BootJobOptions::socket_dir (the agent's own
// directory: a phone has no /tmp).
class SocketDir {
 public:
  explicit SocketDir(const std::string& socket_dir) {
    std::string templ = absl::StrCat(socket_dir, "/kvmfarm-qmp-XXXXXX");
    if (mkdtemp(&templ[0]) != nullptr) path_ = templ;
  }
  ~SocketDir() {
    for (const std::string& s : sockets_) unlink(s.c_str());
    if (!path_.empty()) rmdir(path_.c_str());
  }
  std::string Socket(int index) {
    if (path_.empty()) return "";
    sockets_.push_back(absl::StrCat(path_, "/qmp", index));
    return sockets_.back();
  }

 private:
  std::string path_;
  std::vector<std::string> sockets_;
};

// Every running VM of a job, so Cancel and a vanished client can stop them all.
class VmSet {
 public:
  void Add(Vm* vm) {
    absl::MutexLock lock(&mu_);
    vms_.push_back(vm);
    if (stopped_) vm->Stop();
  }
  void StopAll() {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    for (Vm* vm : vms_) vm->Stop();
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    vms_.clear();
  }
  bool stopped() {
    absl::MutexLock lock(&mu_);
    return stopped_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Vm*> vms_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

farm::v1::Measurement NewMeasurement(const std::string& metric, const std::string& unit,
                                     farm::v1::Mode mode,
                                     const std::map<std::string, std::string>& params) {
  farm::v1::Measurement m;
  m.set_metric(metric);
  m.set_unit(unit);
  m.set_higher_is_better(false);
  m.set_mode(mode);
  for (const auto& [k, v] : params) (*m.mutable_parameters())[k] = v;
  return m;
}

// Why a VM did not reach user space, from how QEMU ended.
std::string BootFailure(const ProcessResult& outcome, absl::Duration deadline, bool cancelled) {
  if (cancelled) return "cancelled";
  if (outcome.exit_code.has_value() || (outcome.term_signal != 0 && !outcome.killed)) {
    return absl::StrCat("QEMU ", outcome.Describe(), " before the boot marker");
  }
  return absl::StrCat("no boot marker within ", absl::FormatDuration(deadline),
                      "; QEMU was killed");
}

// One repetition's VMs, spawned together.
struct Repetition {
  explicit Repetition(const std::string& work_dir) : sockets(work_dir) {}
  SocketDir sockets;
  std::vector<std::unique_ptr<Vm>> vms;  // null where QEMU did not start
  std::vector<farm::v1::VmBoot*> boots;
  std::vector<std::string> qmp_sockets;
};

// A boot job: `repetitions` times, spawn `vm_count` VMs, wait for each to reach user
// space, optionally time switches between two of them; then summarize.
class BootJob {
 public:
  BootJob(const farm::v1::BootVmRequest& request, const BootJobOptions& options,
          const JobContext& context)
      : request_(request),
        options_(options),
        job_(context),
        vm_count_(std::max<uint32_t>(1, request.vm_count())),
        repetitions_(std::max<uint32_t>(1, request.repetitions())) {}

  farm::v1::BootResult Run() {
    result_.set_attempt_id(request_.attempt_id());
    result_.set_accel(request_.accel());
    *result_.mutable_guest() = request_.guest();
    result_.set_vm_count(vm_count_);
    *result_.mutable_started_at() = ToProtoTimestamp(absl::Now());
    if (!Prepare()) return result_;
    job_.OnStop([this] { vm_set_.StopAll(); });
    for (uint32_t rep = 0; rep < repetitions_ && !vm_set_.stopped(); ++rep) RunRepetition(rep);
    job_.OnStop(nullptr);
    Conclude();
    *result_.mutable_finished_at() = ToProtoTimestamp(absl::Now());
    return result_;
  }

 private:
  // The image and the VM spec; false (the reason in the result) without an image.
  bool Prepare() {
    absl::StatusOr<GuestImage> image = ResolveImage(options_.image_dir, request_.guest().image());
    if (!image.ok()) {
      result_.set_failure_reason(std::string(image.status().message()));
      return false;
    }
    spec_ = GuestVmSpec(*image, request_.accel(), request_.guest(), options_.default_vcpus,
                        options_.default_memory_mib);
    spec_.tsc_khz = HostTscKhz();
    if (request_.measure_switch_latency()) spec_.extra_kernel_args = "farm.run=echo";
    result_.set_guest_arch(image->arch);
    // Which kernel booted: comparisons across an image change say so.
    result_.mutable_provenance()->set_guest_image_sha256(ImageSha256(*image));
    result_.mutable_guest()->set_vcpus(spec_.vcpus);
    result_.mutable_guest()->set_memory_mib(spec_.memory_mib);
    boot_deadline_ = request_.has_boot_deadline() ? FromProtoDuration(request_.boot_deadline())
                                                  : options_.default_boot_deadline;
    job_deadline_ = absl::Now() + RequestDeadline(request_, absl::InfiniteDuration());
    params_ = {{"vm_count", absl::StrCat(vm_count_)},
               {"vcpus", absl::StrCat(spec_.vcpus)},
               {"memory_mib", absl::StrCat(spec_.memory_mib)},
               {"image", image->name}};
    return true;
  }

  void RunRepetition(uint32_t rep) {
    job_.Report(absl::StrCat("booting ", vm_count_, " VM", vm_count_ > 1 ? "s" : "", " under ",
                             request_.accel() == farm::v1::MODE_KVM ? "KVM" : "TCG",
                             " (repetition ", rep + 1, " of ", repetitions_, ")"),
                rep + 1, repetitions_);
    Repetition r(options_.socket_dir);
    const absl::Time deadline = std::min(absl::Now() + boot_deadline_, job_deadline_);
    StartVms(rep, &r);
    const bool booted = AwaitBoots(rep, &r, deadline);
    if (booted && vm_count_ > 1) all_of_n_.add_values(absl::ToDoubleSeconds(slowest_));
    if (booted && request_.measure_switch_latency() && !vm_set_.stopped()) {
      MeasureSwitchLatency(rep, &r);
    }
    if (!booted) NoteFailure(r);
    vm_set_.Clear();
    for (std::unique_ptr<Vm>& vm : r.vms) {
      if (vm) vm->Stop();
    }
  }

  void StartVms(uint32_t rep, Repetition* r) {
    for (uint32_t i = 0; i < vm_count_; ++i) {
      VmSpec one = spec_;
      if (request_.measure_switch_latency())
        one.qmp_socket = r->sockets.Socket(static_cast<int>(i));
      r->qmp_sockets.push_back(one.qmp_socket);
      farm::v1::VmBoot* boot = result_.add_vms();
      boot->set_index(i);
      boot->set_repetition(rep);
      r->boots.push_back(boot);
      absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Start(one, options_.qemu_binary);
      if (!vm.ok()) {
        boot->set_failure_reason(absl::StrCat("cannot start QEMU: ", vm.status().message()));
        r->vms.push_back(nullptr);
        continue;
      }
      result_.set_machine((*vm)->command().machine);
      result_.mutable_guest()->set_cpu_model((*vm)->command().cpu_model);
      if (result_.provenance().qemu_version().empty()) {
        result_.mutable_provenance()->set_qemu_version(QemuVersion((*vm)->command().argv[0]));
      }
      vm_set_.Add(vm->get());
      r->vms.push_back(*std::move(vm));
    }
  }

  // All spawned together; waits for each in turn (the slowest bounds the wait). True
  // when every VM reached user space.
  bool AwaitBoots(uint32_t rep, Repetition* r, absl::Time deadline) {
    slowest_ = absl::ZeroDuration();
    bool all = true;
    for (uint32_t i = 0; i < vm_count_; ++i) {
      Vm* vm = r->vms[i].get();
      if (vm == nullptr) {
        all = false;
        continue;
      }
      job_.WaitUntil([vm](absl::Time until) { return vm->WaitForBoot(until) || !vm->running(); },
                     deadline);
      // The ready marker and the clocks line follow the boot marker at once (init
      // prepares nothing for a boot); the stages need them. An old image prints
      // neither and powers off, so QEMU's exit ends this wait too.
      if (vm->booted()) {
        job_.WaitUntil(
            [vm](absl::Time until) { return vm->WaitForStages(until) || !vm->running(); },
            deadline);
      }
      if (vm->booted()) {
        RecordBoot(*vm, r->boots[i]);
        job_.Report(absl::StrCat("VM ", i + 1, " in user space after ",
                                 absl::FormatDuration(
                                     absl::Trunc(vm->time_to_userspace(), absl::Milliseconds(1)))),
                    rep + 1, repetitions_);
      } else {
        all = false;
        const ProcessResult outcome = vm->Stop();
        farm::v1::VmBoot* boot = r->boots[i];
        if (outcome.exit_code.has_value()) boot->set_exit_code(*outcome.exit_code);
        boot->set_failure_reason(BootFailure(outcome, boot_deadline_, vm_set_.stopped()));
        for (const std::string& line : vm->LastConsoleLines()) boot->add_last_console_lines(line);
      }
    }
    return all;
  }

  // A VM in user space: its time, memory overhead and console up to the marker.
  void RecordBoot(const Vm& vm, farm::v1::VmBoot* boot) {
    boot->set_reached_userspace(true);
    *boot->mutable_time_to_userspace() = ToProtoDuration(vm.time_to_userspace());
    *boot->mutable_guest_uptime() = ToProtoDuration(absl::Seconds(vm.guest_uptime_seconds()));
    slowest_ = std::max(slowest_, vm.time_to_userspace());
    to_userspace_.add_values(absl::ToDoubleSeconds(vm.time_to_userspace()));
    RecordStages(vm, boot);
    RecordMemory(vm, boot);
    // The console up to the marker, as evidence behind the figure.
    for (const std::string& line : vm.LastConsoleLines()) boot->add_last_console_lines(line);
  }

  // Where the boot's time went (boot_stages.h); a boot without them says why.
  void RecordStages(const Vm& vm, farm::v1::VmBoot* boot) {
    const absl::StatusOr<BootStages> stages = vm.stages();
    SetStages(stages, boot);
    if (!stages.ok()) return;
    vmm_start_.add_values(absl::ToDoubleSeconds(stages->vmm_start));
    kernel_.add_values(absl::ToDoubleSeconds(stages->kernel));
    userspace_.add_values(absl::ToDoubleSeconds(stages->userspace));
  }

  // QEMU's memory split into the guest's RAM and its own (qemu_memory.h). A QEMU
  // whose RAM mapping can't be found keeps its parts and has no overhead figure.
  void RecordMemory(const Vm& vm, farm::v1::VmBoot* boot) {
    const int64_t guest_ram_kb = int64_t{spec_.memory_mib} * 1024;
    boot->set_guest_ram_kb(guest_ram_kb);
    if (vm.guest_mem_used_kb() > 0) boot->set_guest_mem_used_kb(vm.guest_mem_used_kb());
    const absl::StatusOr<QemuMemory> memory = ReadQemuMemory(vm.pid(), guest_ram_kb);
    if (!memory.ok()) {
      FARM_LOG(WARNING) << "boot.memory_overhead: " << memory.status();
      if (const absl::optional<int64_t> rss = vm.RssKb()) boot->set_qemu_rss_kb(*rss);
      return;
    }
    boot->set_qemu_rss_kb(memory->rss_kb);
    boot->set_guest_ram_resident_kb(memory->guest_ram_resident_kb);
    boot->set_memory_overhead_percent(memory->OverheadPercent());
    overhead_.add_values(memory->OverheadPercent());
  }

  // Pauses one VM and resumes the other over QMP, timing until it answers.
  void MeasureSwitchLatency(uint32_t rep, Repetition* r) {
    std::vector<std::unique_ptr<QmpClient>> qmp;
    for (uint32_t i = 0; i < 2; ++i) {
      absl::StatusOr<std::unique_ptr<QmpClient>> client =
          QmpClient::Connect(r->qmp_sockets[i], absl::Seconds(5));
      if (!client.ok()) {
        result_.set_failure_reason(absl::StrCat("QMP: ", client.status().message()));
        return;
      }
      qmp.push_back(*std::move(client));
    }
    for (int k = 0; k < options_.switch_samples; ++k) {
      const int from = k % 2, to = 1 - from;
      const std::string token = absl::StrCat("switch-", rep, "-", k);
      const absl::Time start = absl::Now();
      absl::StatusOr<std::string> stopped = qmp[from]->Execute("stop", absl::Seconds(5));
      absl::StatusOr<std::string> resumed = qmp[to]->Execute("cont", absl::Seconds(5));
      absl::Status sent = r->vms[to]->SendLine(token);
      if (!stopped.ok() || !resumed.ok() || !sent.ok() ||
          !r->vms[to]->WaitForEcho(token, absl::Now() + absl::Seconds(10))) {
        result_.set_failure_reason("switch latency: a guest did not answer after cont");
        return;
      }
      switch_latency_.add_values(absl::ToDoubleMilliseconds(absl::Now() - start));
    }
  }

  void NoteFailure(const Repetition& r) {
    all_booted_ = false;
    for (const farm::v1::VmBoot* boot : r.boots) {
      if (!boot->reached_userspace() && first_failure_.empty()) {
        first_failure_ = absl::StrCat("VM ", boot->index() + 1, ": ", boot->failure_reason());
      }
    }
  }

  // The figures as measurements, and the job's verdict.
  void Conclude() {
    const struct {
      const farm::v1::Measurement* values;
      const char* metric;
      const char* unit;
    } figures[] = {{&to_userspace_, "boot.time_to_userspace", "s"},
                   {&vmm_start_, "boot.vmm_start", "s"},
                   {&kernel_, "boot.kernel", "s"},
                   {&userspace_, "boot.userspace", "s"},
                   {&all_of_n_, "boot.all_of_n", "s"},
                   {&switch_latency_, "boot.switch_latency", "ms"},
                   {&overhead_, "boot.memory_overhead", "%"}};
    for (const auto& figure : figures) {
      if (figure.values->values().empty()) continue;
      farm::v1::Measurement out =
          NewMeasurement(figure.metric, figure.unit, request_.accel(), params_);
      *out.mutable_values() = figure.values->values();
      Summarize(&out);
      if (figure.values == &overhead_) {
        out.set_note(
            absl::StrCat("QEMU's resident memory beyond the guest RAM it backs, against "
                         "the guest's ",
                         spec_.memory_mib, " MiB of RAM"));
      }
      *result_.add_measurements() = std::move(out);
    }
    result_.set_succeeded(all_booted_ && result_.failure_reason().empty() && !vm_set_.stopped());
    if (vm_set_.stopped()) result_.set_failure_reason("cancelled");
    if (!all_booted_ && result_.failure_reason().empty())
      result_.set_failure_reason(first_failure_);
  }

  const farm::v1::BootVmRequest& request_;
  const BootJobOptions& options_;
  // Stops vm_set_ until the repetitions are over (Run detaches it).
  JobRunner job_;
  VmSet vm_set_;
  const uint32_t vm_count_;
  const uint32_t repetitions_;
  VmSpec spec_;
  absl::Duration boot_deadline_;
  absl::Time job_deadline_;
  std::map<std::string, std::string> params_;
  farm::v1::BootResult result_;
  farm::v1::Measurement to_userspace_, all_of_n_, switch_latency_, overhead_;
  // The stages of the boots that reported them.
  farm::v1::Measurement vmm_start_, kernel_, userspace_;
  absl::Duration slowest_;
  bool all_booted_ = true;
  std::string first_failure_;
};

}  // namespace

absl::Status ValidateBootRequest(const farm::v1::BootVmRequest& request,
                                 const BootJobOptions& options) {
  if (request.attempt_id().empty()) {
    return absl::InvalidArgumentError(
        "attempt_id is required: a unique id per try, echoed in every reply");
  }
  if (request.accel() != farm::v1::MODE_KVM && request.accel() != farm::v1::MODE_TCG) {
    return absl::InvalidArgumentError("accel must be MODE_KVM or MODE_TCG");
  }
  if (request.vm_count() > kMaxVmsPerBoot) {
    return absl::InvalidArgumentError(
        absl::StrCat("vm_count ", request.vm_count(), " is above ", kMaxVmsPerBoot));
  }
  if (request.repetitions() > kMaxBootRepetitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("repetitions ", request.repetitions(), " is above ", kMaxBootRepetitions));
  }
  if (request.measure_switch_latency() && request.vm_count() < 2) {
    return absl::InvalidArgumentError("measure_switch_latency needs vm_count >= 2");
  }
  if (request.has_boot_deadline()) {
    RETURN_IF_ERROR(
        CheckedDuration(request.boot_deadline(), "boot_deadline", kMaxJobDeadline).status());
  }
  if (request.has_deadline()) {
    RETURN_IF_ERROR(CheckedDuration(request.deadline(), "deadline", kMaxJobDeadline).status());
  }
  ASSIGN_OR_RETURN(const GuestImage image,
                   ResolveImage(options.image_dir, request.guest().image()));
  absl::StatusOr<QemuCommand> command =
      BuildQemuCommand(GuestVmSpec(image, request.accel(), request.guest(), options.default_vcpus,
                                   options.default_memory_mib),
                       options.qemu_binary);
  if (!command.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("guest: ", command.status().message()));
  }
  return absl::OkStatus();
}

farm::v1::BootResult RunBootJob(const farm::v1::BootVmRequest& request,
                                const BootJobOptions& options, const JobContext& context) {
  return BootJob(request, options, context).Run();
}

}  // namespace kvmfarm::vm
