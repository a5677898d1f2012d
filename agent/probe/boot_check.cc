#include "agent/probe/boot_check.h"

#include "absl/strings/str_cat.h"
#include "agent/probe/checks.h"
#include "agent/probe/verdict.h"
#include "agent/vm/image.h"
#include "common/proto_time.h"

namespace kvmfarm::probe {

void RunKvmBootCheck(const vm::BootJobOptions& options, JobSlot::Lease* lease,
                     farm::v1::KvmCapability* c) {
  Checks* checks = c->mutable_checks();
  auto skip = [&](const std::string& why) {
    AddCheck(checks, "kvm.boot_check", farm::v1::OUTCOME_SKIP, why, "QEMU");
    DecideVerdict(c);
  };
  if (c->device().is_fixture()) return skip("fixture tree: no guest can boot on it");
  if (c->kvm_node().smoke_test().outcome() != farm::v1::OUTCOME_PASS) {
    return skip("the smoke test did not pass");
  }
  const farm::v1::CpuArch arch = vm::HostArch();
  if (c->qemu_size() == 0) {
    return skip(
        "no QEMU on device (push one with tools/deploy/deploy_phones.sh --qemu, or "
        "give --qemu)");
  }
  std::string qemu_path;
  for (const farm::v1::QemuBinary& qemu : c->qemu()) {
    if (qemu.guest_arch() == arch && qemu.kvm_supported()) qemu_path = qemu.path();
  }
  if (qemu_path.empty()) return skip("no QEMU for this architecture with the kvm accelerator");
  // Debian's kernel, not kvmfarm's minimal one: KVM_READY means a distribution's
  // Linux boots under this KVM, which a kernel built for QEMU might not show.
  const std::string image_name = vm::DistributionImageName();
  absl::StatusOr<vm::GuestImage> image = vm::ResolveImage(options.image_dir, image_name);
  if (!image.ok()) return skip(absl::StrCat("no guest image: ", image.status().message()));

  farm::v1::BootVmRequest request;
  request.set_attempt_id("kvm-boot-check");
  request.set_accel(farm::v1::MODE_KVM);
  request.set_vm_count(1);
  request.mutable_guest()->set_image(image_name);
  *request.mutable_boot_deadline() = ToProtoDuration(kBootCheckDeadline);
  vm::BootJobOptions boot_options = options;
  boot_options.qemu_binary = qemu_path;
  JobContext context;
  context.lease = lease;
  farm::v1::BootResult result = vm::RunBootJob(request, boot_options, context);
  std::string detail;
  if (result.succeeded()) {
    detail = absl::StrCat(
        "a Linux guest (", image_name, ") reached user space under KVM in ",
        absl::ToInt64Milliseconds(FromProtoDuration(result.vms(0).time_to_userspace())), " ms (",
        result.machine(), ", -cpu ", result.guest().cpu_model(), ")");
  } else {
    detail = absl::StrCat("a Linux guest (", image_name,
                          ") did not boot under KVM: ", result.failure_reason());
    if (result.vms_size() > 0 && result.vms(0).last_console_lines_size() > 0) {
      absl::StrAppend(&detail,
                      " (last console line: ", *result.vms(0).last_console_lines().rbegin(), ")");
    }
  }
  AddCheck(checks, "kvm.boot_check",
           result.succeeded() ? farm::v1::OUTCOME_PASS : farm::v1::OUTCOME_FAIL, detail, qemu_path);
  *c->mutable_kvm_boot_check() = std::move(result);
  DecideVerdict(c);
}

}  // namespace kvmfarm::probe
