#include "agent/vm/guest_workloads.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"
#include "agent/conditions.h"
#include "agent/environment.h"
#include "agent/throttling.h"
#include "agent/vm/boot_stages.h"
#include "agent/vm/image.h"
#include "agent/vm/provenance.h"
#include "agent/vm/vm.h"
#include "agent/workload_flags.h"
#include "common/measurement.h"
#include "common/proto_time.h"
#include "workloads/catalog.h"

namespace kvmfarm::vm {
namespace {

// Workloads' buffers are 256 MiB by default; the guest needs room for them.
constexpr uint32_t kWorkloadGuestMemoryMib = 1024;
constexpr absl::Duration kDefaultJobDeadline = absl::Minutes(30);
// How long a guest that printed its result gets to power off by itself.
constexpr absl::Duration kPowerOffGrace = absl::Seconds(5);

std::string KernelArgs(const farm::v1::RunBenchmarkRequest& request) {
  std::string args = "farm.run=workloads";
  for (const WorkloadFlag& flag : WorkloadFlags(request)) {
    absl::StrAppend(&args, " farm.", flag.name, "=", flag.value);
  }
  return args;
}

// The io workload's scratch disk: a file of its size plus room for the filesystem,
// removed when this goes. QEMU opens it by path, so it has a name while the job
// runs; an agent killed meanwhile leaves it in its own directory (work_dir is
// farm-agent.<pid>, agent/work_dir.h), which the next agent removes. Not an fd
// QEMU inherits (/dev/fd/N, -add-fd): Subprocess hands a child only its standard
// three descriptors, and the one directory rule covers QMP sockets too.
class ScratchDisk {
 public:
  ScratchDisk() = default;
  ScratchDisk(const ScratchDisk&) = delete;
  ScratchDisk& operator=(const ScratchDisk&) = delete;
  ~ScratchDisk() { Remove(); }

  // A new disk file of `bytes` in `dir` (replacing this one's); false when it can't.
  bool Create(const std::string& dir, uint64_t bytes) {
    std::string path = absl::StrCat(dir, "/farm-scratch-XXXXXX");
    const int fd = mkstemp(&path[0]);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      if (fd >= 0) close(fd);
      return false;
    }
    close(fd);
    Remove();
    path_ = path;
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  void Remove() {
    if (!path_.empty()) unlink(path_.c_str());
    path_.clear();
  }
  std::string path_;
};

// The guest for `request`: the image booted with the workloads on its command line,
// and a scratch disk for each io workload (a note in `result` when there is none).
VmSpec WorkloadVmSpec(const farm::v1::RunBenchmarkRequest& request, const BootJobOptions& options,
                      const GuestImage& image, ScratchDisk* disk,
                      farm::v1::BenchmarkResult* result) {
  VmSpec spec = GuestVmSpec(image, request.mode(), request.guest(), options.default_vcpus,
                            kWorkloadGuestMemoryMib);
  spec.extra_kernel_args = KernelArgs(request);
  spec.tsc_khz = HostTscKhz();
  for (const farm::v1::WorkloadSpec& w : request.workloads()) {
    if (w.name() != "io") continue;
    // Its file (size_bytes, the catalog's default when the spec has none), plus room
    // for the filesystem. The request was validated against the catalog.
    const absl::StatusOr<workloads::WorkloadParameters> io = workloads::ResolveWorkloadSpec(w);
    const uint64_t bytes = (io.ok() ? io->size_bytes : 0) + (64ull << 20);
    if (!disk->Create(options.work_dir, bytes)) {
      result->add_notes(absl::StrCat("no scratch disk in ", options.work_dir, ": io is absent"));
      break;
    }
    spec.scratch_disk = disk->path();
    absl::StrAppend(&spec.extra_kernel_args, " farm.disk=1");
  }
  return spec;
}

// Waits for the JSON the guest prints: it must boot by `boot_deadline` and print by
// `job_deadline`. Absent when it did not (or the job was stopped).
absl::optional<std::string> AwaitResult(Vm* guest, JobRunner* job, absl::Time boot_deadline,
                                        absl::Time job_deadline) {
  absl::optional<std::string> json;
  job->WaitUntil(
      [&](absl::Time until) {
        if (!guest->running()) return true;
        if (!guest->booted() && absl::Now() >= boot_deadline) return true;
        json = guest->WaitForResult(until);
        return json.has_value();
      },
      job_deadline);
  if (!json) json = guest->WaitForResult(absl::Now());  // printed just before QEMU exited
  return json;
}

// result.guest_boot: how the guest booted, with its last console lines if it did not.
void RecordGuestBoot(const farm::v1::RunBenchmarkRequest& request, const GuestImage& image,
                     const Vm& guest, farm::v1::BenchmarkResult* result) {
  farm::v1::BootResult* boot = result->mutable_guest_boot();
  boot->set_accel(request.mode());
  boot->set_vm_count(1);
  boot->set_guest_arch(image.arch);
  boot->set_machine(guest.command().machine);
  *boot->mutable_guest() = result->guest();
  farm::v1::VmBoot* vm_boot = boot->add_vms();
  vm_boot->set_reached_userspace(guest.booted());
  if (guest.booted()) {
    *vm_boot->mutable_time_to_userspace() = ToProtoDuration(guest.time_to_userspace());
    SetStages(guest.stages(), vm_boot);
  } else {
    for (const std::string& line : guest.LastConsoleLines()) {
      vm_boot->add_last_console_lines(line);
    }
  }
  boot->set_succeeded(guest.booted());
}

// The guest's figures, labelled with the mode (and the guest's architecture when it
// is not the host's).
void TakeGuestResult(const farm::v1::BenchmarkResult& parsed, farm::v1::Mode mode,
                     const GuestImage& image, farm::v1::BenchmarkResult* result) {
  *result->mutable_measurements() = parsed.measurements();
  *result->mutable_failures() = parsed.failures();
  *result->mutable_provenance() = parsed.provenance();
  result->set_succeeded(parsed.succeeded());
  result->set_failure_reason(parsed.failure_reason());
  for (farm::v1::Measurement& m : *result->mutable_measurements()) {
    m.set_mode(mode);
    // A guest of another architecture measures something else than a native-arch
    // guest (an arm64 guest under TCG on an x86-64 host): labelled, kept apart.
    if (image.arch != HostArch()) {
      (*m.mutable_parameters())[kGuestArchParameter] = ArchName(image.arch);
    }
  }
}

// Why there is no result from the guest.
std::string NoResultReason(bool stopped, const Vm& guest, bool past_deadline,
                           const ProcessResult& outcome) {
  if (stopped) return "cancelled";
  if (!guest.booted()) return absl::StrCat("the guest did not boot: QEMU ", outcome.Describe());
  if (past_deadline) return "deadline exceeded before the guest printed its result";
  return absl::StrCat("no result from the guest: QEMU ", outcome.Describe());
}

// Boots the guest and waits for its result, recording it in `result`.
// The guest's repetitions as the host's clock saw them (its progress lines arrive
// on QEMU's console thread).
class GuestRepetitions {
 public:
  explicit GuestRepetitions(absl::Time from) : from_(from) {}
  void OnProgress(const farm::v1::Progress& progress) {
    absl::MutexLock lock(&mu_);
    windows_.OnProgress(progress, absl::Now() - from_);
  }
  std::vector<RepetitionWindow> Close() {
    absl::MutexLock lock(&mu_);
    return windows_.Close(absl::Now() - from_);
  }

 private:
  const absl::Time from_;
  absl::Mutex mu_;
  RepetitionWindows windows_ ABSL_GUARDED_BY(mu_);
};

void RunGuest(const farm::v1::RunBenchmarkRequest& request, const BootJobOptions& options,
              const GuestImage& image, const std::string& image_name, const VmSpec& spec,
              JobRunner* job, GuestRepetitions* repetitions, farm::v1::BenchmarkResult* result) {
  absl::StatusOr<std::unique_ptr<Vm>> vm =
      Vm::Start(spec, options.qemu_binary, [job, repetitions](farm::v1::Progress progress) {
        repetitions->OnProgress(progress);
        progress.set_message(absl::StrCat("in the guest: ", progress.message()));
        job->Report(progress);
      });
  if (!vm.ok()) {
    result->set_failure_reason(absl::StrCat("cannot start QEMU: ", vm.status().message()));
    return;
  }
  Vm* guest = vm->get();
  job->OnStop([guest] { guest->Stop(); });
  farm::v1::GuestConfig* config = result->mutable_guest();
  *config = request.guest();
  config->set_image(image_name);
  config->set_vcpus(spec.vcpus);
  config->set_memory_mib(spec.memory_mib);
  config->set_cpu_model(guest->command().cpu_model);

  const absl::Time boot_deadline = absl::Now() + options.default_boot_deadline;
  const absl::Time job_deadline = absl::Now() + RequestDeadline(request, kDefaultJobDeadline);
  const absl::optional<std::string> json = AwaitResult(guest, job, boot_deadline, job_deadline);
  const ProcessResult outcome = guest->Finish(kPowerOffGrace);
  job->OnStop(nullptr);

  RecordGuestBoot(request, image, *guest, result);
  farm::v1::BenchmarkResult parsed;
  if (json && google::protobuf::util::JsonStringToMessage(*json, &parsed).ok()) {
    TakeGuestResult(parsed, request.mode(), image, result);
    farm::v1::Provenance* provenance = result->mutable_provenance();
    if (!guest->command().argv.empty()) {
      provenance->set_qemu_version(QemuVersion(guest->command().argv[0]));
    }
    provenance->set_guest_image_sha256(ImageSha256(image));
  } else {
    result->set_succeeded(false);
    result->set_failure_reason(
        NoResultReason(job->stopped(), *guest, absl::Now() >= job_deadline, outcome));
    result->mutable_guest_boot()->set_failure_reason(guest->booted() ? ""
                                                                     : result->failure_reason());
  }
  result->set_log(guest->ConsoleLog());
}

}  // namespace

farm::v1::BenchmarkResult RunWorkloadsInGuest(const farm::v1::RunBenchmarkRequest& request,
                                              const BootJobOptions& options,
                                              const JobContext& context) {
  farm::v1::BenchmarkResult result;
  result.set_attempt_id(request.attempt_id());
  result.set_mode(request.mode());
  *result.mutable_started_at() = ToProtoTimestamp(absl::Now());
  const std::string image_name = GuestImageName(request.guest());
  absl::StatusOr<GuestImage> image = ResolveImage(options.image_dir, image_name);
  if (!image.ok()) {
    result.set_failure_reason(std::string(image.status().message()));
    return result;
  }
  if (!image->has_workloads) {
    result.set_failure_reason(
        absl::StrCat("guest image '", image_name, "' carries no farm-workload (busybox only)"));
    return result;
  }
  // The host's battery and heat: a guest measures on the device's own CPU.
  const probe::Sysroot host("/");
  std::string battery_note;
  const absl::Status battery = CheckBattery(ReadEnvironment(host, absl::ZeroDuration()),
                                            request.conditions(), &battery_note);
  if (!battery.ok()) {
    result.set_failure_reason(std::string(battery.message()));
    return result;
  }
  if (!battery_note.empty()) result.add_notes(battery_note);
  if (request.conditions().cool_down_within_celsius() > 0) {
    result.add_notes(
        "cool-down applies to native repetitions: a guest runs its repetitions in "
        "one boot");
  }
  ScratchDisk disk;
  const VmSpec spec = WorkloadVmSpec(request, options, *image, &disk, &result);
  JobRunner job(context);
  EnvironmentSampler sampler(host, absl::Seconds(1));
  sampler.Start();
  GuestRepetitions repetitions(absl::Now());
  RunGuest(request, options, *image, image_name, spec, &job, &repetitions, &result);
  const std::vector<farm::v1::EnvironmentSample> samples = sampler.Stop();
  for (const farm::v1::EnvironmentSample& s : samples) *result.add_environment() = s;
  MarkThrottled(repetitions.Close(), samples, ThrottleOptions(), &result);
  *result.mutable_finished_at() = ToProtoTimestamp(absl::Now());
  return result;
}

}  // namespace kvmfarm::vm
