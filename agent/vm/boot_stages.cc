#include "agent/vm/boot_stages.h"

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"

namespace kvmfarm::vm {

absl::StatusOr<BootStages> SplitBoot(absl::Duration time_to_userspace,
                                     const GuestBootClocks& clocks) {
  if (clocks.booted_clock_ns <= 0) {
    return absl::NotFoundError("the boot marker carries no guest clock (FARM_BOOTED clock_ns)");
  }
  if (clocks.ready_clock_ns <= 0) {
    return absl::NotFoundError("no ready marker with the guest's clock (FARM_READY clock_ns)");
  }
  if (clocks.counter_ns <= 0 || clocks.counter_clock_ns <= 0) {
    return absl::NotFoundError("no clocks line from the guest (FARM_CLOCKS)");
  }
  if (clocks.ready_clock_ns < clocks.booted_clock_ns) {
    return absl::FailedPreconditionError(absl::StrCat("FARM_READY clock_ns ", clocks.ready_clock_ns,
                                                      " is before FARM_BOOTED clock_ns ",
                                                      clocks.booted_clock_ns));
  }
  // Where the kernel's clock started, on the counter that started with the CPU.
  const int64_t clock_start_ns = clocks.counter_ns - clocks.counter_clock_ns;
  if (clock_start_ns < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("FARM_CLOCKS counter_ns ", clocks.counter_ns, " is behind its clock_ns ",
                     clocks.counter_clock_ns, ": the CPU's counter did not start with the guest"));
  }
  const absl::Duration kernel = absl::Nanoseconds(clock_start_ns + clocks.booted_clock_ns);
  if (kernel > time_to_userspace) {
    return absl::FailedPreconditionError(
        absl::StrCat("the guest counts ", absl::FormatDuration(kernel),
                     " from its first instruction to the boot marker, more than the host's ",
                     absl::FormatDuration(time_to_userspace), " from spawning QEMU"));
  }
  return BootStages{time_to_userspace - kernel, kernel,
                    absl::Nanoseconds(clocks.ready_clock_ns - clocks.booted_clock_ns)};
}

farm::v1::BootStages ToProto(const BootStages& stages) {
  farm::v1::BootStages proto;
  *proto.mutable_vmm_start() = ToProtoDuration(stages.vmm_start);
  *proto.mutable_kernel() = ToProtoDuration(stages.kernel);
  *proto.mutable_userspace() = ToProtoDuration(stages.userspace);
  return proto;
}

void SetStages(const absl::StatusOr<BootStages>& stages, farm::v1::VmBoot* boot) {
  if (stages.ok()) {
    *boot->mutable_stages() = ToProto(*stages);
  } else {
    boot->set_stages_note(std::string(stages.status().message()));
  }
}

}  // namespace kvmfarm::vm
