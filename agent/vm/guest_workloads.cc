// RunWorkloadsInGuest: farm-workload inside one guest (declared in boot.h).
#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/vm/boot.h"
#include "agent/vm/image.h"
#include "agent/vm/vm.h"
#include "agent/workload_flags.h"
#include "common/measurement.h"
#include "common/proto_time.h"

namespace kvmfarm::vm {
namespace {

using google::protobuf::util::TimeUtil;

// Workloads' buffers are 256 MiB by default; the guest needs room for them.
constexpr uint32_t kWorkloadGuestMemoryMib = 1024;
constexpr absl::Duration kDefaultJobDeadline = absl::Minutes(30);

std::string KernelArgs(const farm::v1::RunBenchmarkRequest& request) {
  std::string args = "farm.run=workloads";
  for (const WorkloadFlag& flag : WorkloadFlags(request)) {
    absl::StrAppend(&args, " farm.", flag.name, "=", flag.value);
  }
  return args;
}

}  // namespace

farm::v1::BenchmarkResult RunWorkloadsInGuest(
    const farm::v1::RunBenchmarkRequest& request, const BootJobOptions& options,
    JobSlot::Lease* lease, const std::function<bool()>& client_gone,
    const std::function<void(const farm::v1::Progress&)>& on_progress) {
  farm::v1::BenchmarkResult result;
  result.set_attempt_id(request.attempt_id());
  result.set_mode(request.mode());
  *result.mutable_started_at() = ToProtoTimestamp(absl::Now());
  const std::string image_name =
      request.guest().image().empty() ? HostImageName() : request.guest().image();
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
  VmSpec spec = GuestVmSpec(*image, request.mode(), request.guest(), options.default_vcpus,
                            kWorkloadGuestMemoryMib);
  spec.extra_kernel_args = KernelArgs(request);
  spec.tsc_khz = HostTscKhz();
  // The io workload gets a scratch disk of its size (plus room for the filesystem),
  // removed when the job ends.
  std::unique_ptr<std::string, void (*)(std::string*)> disk(nullptr, [](std::string* path) {
    unlink(path->c_str());
    delete path;
  });
  for (const farm::v1::WorkloadSpec& w : request.workloads()) {
    if (w.name() != "io") continue;
    const uint64_t bytes = (w.has_size_bytes() ? w.size_bytes() : 256ull << 20) + (64ull << 20);
    std::string path = absl::StrCat(options.work_dir, "/farm-scratch-XXXXXX");
    const int fd = mkstemp(&path[0]);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      if (fd >= 0) close(fd);
      result.add_notes(absl::StrCat("no scratch disk in ", options.work_dir, ": io is absent"));
      break;
    }
    close(fd);
    disk.reset(new std::string(path));
    spec.scratch_disk = path;
    absl::StrAppend(&spec.extra_kernel_args, " farm.disk=1");
  }

  auto forward_progress = [lease, &on_progress](absl::string_view line) {
    if (!absl::ConsumePrefix(&line, "FARM_PROGRESS ")) return;
    farm::v1::Progress progress;
    if (!google::protobuf::util::JsonStringToMessage(std::string(line), &progress).ok()) return;
    progress.set_message(absl::StrCat("in the guest: ", progress.message()));
    if (lease != nullptr) lease->SetProgress(progress);
    if (on_progress) on_progress(progress);
  };
  absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Start(spec, options.qemu_binary, forward_progress);
  if (!vm.ok()) {
    result.set_failure_reason(absl::StrCat("cannot start QEMU: ", vm.status().message()));
    return result;
  }
  Vm* guest = vm->get();
  std::atomic<bool> cancelled{false};
  if (lease != nullptr) {
    lease->OnCancel([guest, &cancelled] {
      cancelled = true;
      guest->Stop();
    });
  }
  farm::v1::GuestConfig* config = result.mutable_guest();
  *config = request.guest();
  config->set_image(image_name);
  config->set_vcpus(spec.vcpus);
  config->set_memory_mib(spec.memory_mib);
  config->set_cpu_model(guest->command().cpu_model);

  const absl::Time boot_deadline = absl::Now() + options.default_boot_deadline;
  const absl::Time job_deadline =
      absl::Now() + (request.has_deadline()
                         ? absl::Nanoseconds(TimeUtil::DurationToNanoseconds(request.deadline()))
                         : kDefaultJobDeadline);
  absl::optional<std::string> json;
  while (guest->running() && absl::Now() < job_deadline) {
    if (!guest->booted() && absl::Now() >= boot_deadline) break;
    json = guest->WaitForResult(std::min(job_deadline, absl::Now() + absl::Milliseconds(200)));
    if (json) break;
    if (client_gone && client_gone()) {
      cancelled = true;
      guest->Stop();
    }
  }
  if (!json) json = guest->WaitForResult(absl::Now());  // printed just before QEMU exited
  const ProcessResult outcome = guest->Finish(absl::Seconds(5));
  if (lease != nullptr) lease->OnCancel(nullptr);

  farm::v1::BootResult* boot = result.mutable_guest_boot();
  boot->set_accel(request.mode());
  boot->set_vm_count(1);
  boot->set_guest_arch(image->arch);
  boot->set_machine(guest->command().machine);
  *boot->mutable_guest() = *config;
  farm::v1::VmBoot* vm_boot = boot->add_vms();
  vm_boot->set_reached_userspace(guest->booted());
  if (guest->booted()) {
    *vm_boot->mutable_time_to_userspace() =
        TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(guest->time_to_userspace()));
  } else {
    for (const std::string& line : guest->LastConsoleLines()) {
      vm_boot->add_last_console_lines(line);
    }
  }
  boot->set_succeeded(guest->booted());

  farm::v1::BenchmarkResult parsed;
  if (json && google::protobuf::util::JsonStringToMessage(*json, &parsed).ok()) {
    *result.mutable_measurements() = parsed.measurements();
    *result.mutable_failures() = parsed.failures();
    *result.mutable_provenance() = parsed.provenance();
    result.set_succeeded(parsed.succeeded());
    result.set_failure_reason(parsed.failure_reason());
    for (farm::v1::Measurement& m : *result.mutable_measurements()) {
      m.set_mode(request.mode());
      // A guest of another architecture measures something else than a native-arch
      // guest (an arm64 guest under TCG on an x86-64 host): labelled, kept apart.
      if (image->arch != HostArch()) {
        (*m.mutable_parameters())[kGuestArchParameter] = ArchName(image->arch);
      }
    }
  } else {
    result.set_succeeded(false);
    result.set_failure_reason(
        cancelled          ? "cancelled"
        : !guest->booted() ? absl::StrCat("the guest did not boot: QEMU ", outcome.Describe())
        : absl::Now() >= job_deadline
            ? "deadline exceeded before the guest printed its result"
            : absl::StrCat("no result from the guest: QEMU ", outcome.Describe()));
    boot->set_failure_reason(guest->booted() ? "" : result.failure_reason());
  }
  result.set_log(guest->ConsoleLog());
  *result.mutable_finished_at() = ToProtoTimestamp(absl::Now());
  return result;
}

}  // namespace kvmfarm::vm
