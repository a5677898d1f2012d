#include "agent/vm/boot.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
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
#include "agent/vm/image.h"
#include "agent/vm/qmp.h"
#include "agent/vm/vm.h"
#include "common/measurement.h"
#include "common/proto_time.h"

namespace kvmfarm::vm {
namespace {

using google::protobuf::util::TimeUtil;

constexpr uint32_t kMaxVms = 16;
constexpr uint32_t kMaxRepetitions = 100;

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Nanoseconds(TimeUtil::DurationToNanoseconds(d));
}
google::protobuf::Duration ToProto(absl::Duration d) {
  return TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

// A directory for QMP sockets, in the work directory (a phone has no /tmp) unless
// that is too long: a Unix socket path is limited to 108 bytes, and test working
// directories are longer.
class SocketDir {
 public:
  explicit SocketDir(const std::string& work_dir) {
    std::string templ =
        absl::StrCat(work_dir.size() <= 64 ? work_dir : "/tmp", "/kvmfarm-qmp-XXXXXX");
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

void Report(const std::function<void(const farm::v1::Progress&)>& on_progress,
            JobSlot::Lease* lease, const std::string& message, uint32_t step, uint32_t total) {
  farm::v1::Progress progress;
  progress.set_message(message);
  progress.set_step(step);
  progress.set_total_steps(total);
  if (lease != nullptr) lease->SetProgress(progress);
  if (on_progress) on_progress(progress);
}

// Stops the VMs when the client went away.
void WatchClient(VmSet* vms, const std::function<bool()>& client_gone) {
  if (client_gone && client_gone()) vms->StopAll();
}

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
  if (request.vm_count() > kMaxVms) {
    return absl::InvalidArgumentError(
        absl::StrCat("vm_count ", request.vm_count(), " is above ", kMaxVms));
  }
  if (request.repetitions() > kMaxRepetitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("repetitions ", request.repetitions(), " is above ", kMaxRepetitions));
  }
  if (request.measure_switch_latency() && request.vm_count() < 2) {
    return absl::InvalidArgumentError("measure_switch_latency needs vm_count >= 2");
  }
  for (const auto* d : {&request.boot_deadline(), &request.deadline()}) {
    if (TimeUtil::DurationToNanoseconds(*d) < 0) {
      return absl::InvalidArgumentError("deadlines must not be negative");
    }
  }
  absl::StatusOr<GuestImage> image = ResolveImage(options.image_dir, request.guest().image());
  if (!image.ok()) return image.status();
  absl::StatusOr<QemuCommand> command =
      BuildQemuCommand(GuestVmSpec(*image, request.accel(), request.guest(), options.default_vcpus,
                                   options.default_memory_mib),
                       options.qemu_binary);
  if (!command.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("guest: ", command.status().message()));
  }
  return absl::OkStatus();
}

farm::v1::BootResult RunBootJob(const farm::v1::BootVmRequest& request,
                                const BootJobOptions& options, JobSlot::Lease* lease,
                                const std::function<bool()>& client_gone,
                                const std::function<void(const farm::v1::Progress&)>& on_progress) {
  farm::v1::BootResult result;
  result.set_attempt_id(request.attempt_id());
  result.set_accel(request.accel());
  *result.mutable_guest() = request.guest();
  const uint32_t vm_count = std::max<uint32_t>(1, request.vm_count());
  const uint32_t repetitions = std::max<uint32_t>(1, request.repetitions());
  result.set_vm_count(vm_count);
  *result.mutable_started_at() = ToProtoTimestamp(absl::Now());

  absl::StatusOr<GuestImage> image = ResolveImage(options.image_dir, request.guest().image());
  if (!image.ok()) {
    result.set_failure_reason(std::string(image.status().message()));
    return result;
  }
  VmSpec spec = GuestVmSpec(*image, request.accel(), request.guest(), options.default_vcpus,
                            options.default_memory_mib);
  spec.tsc_khz = HostTscKhz();
  if (request.measure_switch_latency()) spec.extra_kernel_args = "farm.run=echo";
  result.set_guest_arch(image->arch);
  result.mutable_guest()->set_vcpus(spec.vcpus);
  result.mutable_guest()->set_memory_mib(spec.memory_mib);

  const absl::Duration boot_deadline = request.has_boot_deadline()
                                           ? FromProto(request.boot_deadline())
                                           : options.default_boot_deadline;
  const absl::Time job_deadline =
      request.has_deadline() ? absl::Now() + FromProto(request.deadline()) : absl::InfiniteFuture();
  const farm::v1::Mode mode = request.accel();
  std::map<std::string, std::string> params = {{"vm_count", absl::StrCat(vm_count)},
                                               {"vcpus", absl::StrCat(spec.vcpus)},
                                               {"memory_mib", absl::StrCat(spec.memory_mib)},
                                               {"image", image->name}};
  farm::v1::Measurement to_userspace, all_of_n, switch_latency, overhead;
  bool all_booted = true;
  std::string first_failure;
  VmSet vm_set;
  if (lease != nullptr) lease->OnCancel([&vm_set] { vm_set.StopAll(); });

  for (uint32_t rep = 0; rep < repetitions && !vm_set.stopped(); ++rep) {
    Report(on_progress, lease,
           absl::StrCat("booting ", vm_count, " VM", vm_count > 1 ? "s" : "", " under ",
                        mode == farm::v1::MODE_KVM ? "KVM" : "TCG", " (repetition ", rep + 1,
                        " of ", repetitions, ")"),
           rep + 1, repetitions);
    SocketDir sockets(options.work_dir);
    std::vector<std::unique_ptr<Vm>> vms;
    std::vector<farm::v1::VmBoot*> boots;
    std::vector<std::string> qmp_sockets;
    const absl::Time rep_deadline = std::min(absl::Now() + boot_deadline, job_deadline);
    for (uint32_t i = 0; i < vm_count; ++i) {
      VmSpec one = spec;
      if (request.measure_switch_latency()) one.qmp_socket = sockets.Socket(static_cast<int>(i));
      qmp_sockets.push_back(one.qmp_socket);
      farm::v1::VmBoot* boot = result.add_vms();
      boot->set_index(i);
      boot->set_repetition(rep);
      boots.push_back(boot);
      absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Start(one, options.qemu_binary);
      if (!vm.ok()) {
        boot->set_failure_reason(absl::StrCat("cannot start QEMU: ", vm.status().message()));
        vms.push_back(nullptr);
        continue;
      }
      result.set_machine((*vm)->command().machine);
      result.mutable_guest()->set_cpu_model((*vm)->command().cpu_model);
      vm_set.Add(vm->get());
      vms.push_back(*std::move(vm));
    }
    // All spawned together; wait for each in turn (the slowest bounds the wait).
    absl::Duration slowest;
    bool rep_booted = true;
    for (uint32_t i = 0; i < vm_count; ++i) {
      Vm* vm = vms[i].get();
      farm::v1::VmBoot* boot = boots[i];
      if (vm == nullptr) {
        rep_booted = false;
        continue;
      }
      while (!vm->booted() && vm->running() && absl::Now() < rep_deadline && !vm_set.stopped()) {
        vm->WaitForBoot(std::min(rep_deadline, absl::Now() + absl::Milliseconds(200)));
        WatchClient(&vm_set, client_gone);
      }
      if (vm->booted()) {
        boot->set_reached_userspace(true);
        *boot->mutable_time_to_userspace() = ToProto(vm->time_to_userspace());
        *boot->mutable_guest_uptime() = ToProto(absl::Seconds(vm->guest_uptime_seconds()));
        slowest = std::max(slowest, vm->time_to_userspace());
        to_userspace.add_values(absl::ToDoubleSeconds(vm->time_to_userspace()));
        const absl::optional<int64_t> rss = vm->RssKb();
        if (rss && vm->guest_mem_used_kb() > 0) {
          const double percent =
              100.0 * static_cast<double>(*rss) / static_cast<double>(vm->guest_mem_used_kb()) -
              100.0;
          boot->set_memory_overhead_percent(percent);
          overhead.add_values(percent);
        }
        // The console up to the marker, as evidence behind the figure.
        for (const std::string& line : vm->LastConsoleLines()) {
          boot->add_last_console_lines(line);
        }
        Report(on_progress, lease,
               absl::StrCat("VM ", i + 1, " in user space after ",
                            absl::FormatDuration(
                                absl::Trunc(vm->time_to_userspace(), absl::Milliseconds(1)))),
               rep + 1, repetitions);
      } else {
        rep_booted = false;
        const ProcessResult outcome = vm->Stop();
        if (outcome.exit_code.has_value()) boot->set_exit_code(*outcome.exit_code);
        boot->set_failure_reason(BootFailure(outcome, boot_deadline, vm_set.stopped()));
        for (const std::string& line : vm->LastConsoleLines()) boot->add_last_console_lines(line);
      }
    }
    if (rep_booted && vm_count > 1) all_of_n.add_values(absl::ToDoubleSeconds(slowest));

    if (rep_booted && request.measure_switch_latency() && !vm_set.stopped()) {
      std::vector<std::unique_ptr<QmpClient>> qmp;
      for (uint32_t i = 0; i < 2; ++i) {
        absl::StatusOr<std::unique_ptr<QmpClient>> client =
            QmpClient::Connect(qmp_sockets[i], absl::Seconds(5));
        if (!client.ok()) {
          result.set_failure_reason(absl::StrCat("QMP: ", client.status().message()));
          break;
        }
        qmp.push_back(*std::move(client));
      }
      for (int k = 0; qmp.size() == 2 && k < options.switch_samples; ++k) {
        const int from = k % 2, to = 1 - from;
        const std::string token = absl::StrCat("switch-", rep, "-", k);
        const absl::Time start = absl::Now();
        absl::StatusOr<std::string> stopped = qmp[from]->Execute("stop", absl::Seconds(5));
        absl::StatusOr<std::string> resumed = qmp[to]->Execute("cont", absl::Seconds(5));
        absl::Status sent = vms[to]->SendLine(token);
        if (!stopped.ok() || !resumed.ok() || !sent.ok() ||
            !vms[to]->WaitForEcho(token, absl::Now() + absl::Seconds(10))) {
          result.set_failure_reason("switch latency: a guest did not answer after cont");
          break;
        }
        switch_latency.add_values(absl::ToDoubleMilliseconds(absl::Now() - start));
      }
    }
    if (!rep_booted) {
      all_booted = false;
      for (const farm::v1::VmBoot* boot : boots) {
        if (!boot->reached_userspace() && first_failure.empty()) {
          first_failure = absl::StrCat("VM ", boot->index() + 1, ": ", boot->failure_reason());
        }
      }
    }
    vm_set.Clear();
    for (std::unique_ptr<Vm>& vm : vms) {
      if (vm) vm->Stop();
    }
  }
  if (lease != nullptr) lease->OnCancel(nullptr);

  std::vector<std::pair<farm::v1::Measurement*, std::pair<const char*, const char*>>> all = {
      {&to_userspace, {"boot.time_to_userspace", "s"}},
      {&all_of_n, {"boot.all_of_n", "s"}},
      {&switch_latency, {"boot.switch_latency", "ms"}},
      {&overhead, {"boot.memory_overhead", "%"}}};
  for (auto& [m, names] : all) {
    if (m->values().empty()) continue;
    farm::v1::Measurement out = NewMeasurement(names.first, names.second, mode, params);
    *out.mutable_values() = m->values();
    Summarize(&out);
    if (std::string(names.first) == "boot.memory_overhead") {
      out.set_note("QEMU resident memory over the guest's MemTotal - MemAvailable");
    }
    *result.add_measurements() = std::move(out);
  }
  result.set_succeeded(all_booted && result.failure_reason().empty() && !vm_set.stopped());
  if (vm_set.stopped()) result.set_failure_reason("cancelled");
  if (!all_booted && result.failure_reason().empty()) result.set_failure_reason(first_failure);
  *result.mutable_finished_at() = ToProtoTimestamp(absl::Now());
  return result;
}

}  // namespace kvmfarm::vm
