// Boots the reference guest N times per configuration and prints the median, min
// and max time to user space, each stage's median (agent/vm/boot_stages.h), and the
// median against the stock boot's, side by side in one run:
//  * x86-64 under TCG (and KVM where /dev/kvm boots Linux): the stock PC machine
//    with Debian's compressed kernel through the firmware; microvm with Debian's
//    vmlinux (x86_64-debian) through PVH; microvm with kvmfarm's kernel (x86_64);
//  * arm64 under TCG: virt with Debian's kernel and with kvmfarm's.
//   bazel run //guest_images:boot_benchmark [-- --boots=10]
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/vm/boot_stages.h"
#include "agent/vm/image.h"
#include "agent/vm/qemu_command.h"
#include "agent/vm/vm.h"
#include "common/flags.h"
#include "common/measurement.h"
#include "common/status_macros.h"

ABSL_FLAG(int32_t, boots, 10, "Boots per configuration.");
ABSL_FLAG(std::string, image_dir, "", "Image directory (default: the built one).");
ABSL_FLAG(bool, kvm, true, "Also try KVM where /dev/kvm exists.");
ABSL_FLAG(bool, arm64, true,
          "Also the arm64 images under TCG, with the agent's CPU model (cortex-a72).");

namespace kvmfarm::vm {
namespace {

struct Config {
  std::string label;
  farm::v1::Mode accel;
  std::string machine;
  GuestImage image;
  std::string cpu_model;  // "" = the agent's choice
};

// The medians of one configuration's boots.
struct Row {
  farm::v1::Measurement to_userspace, vmm_start, kernel, userspace;
  std::string failure;
};

Row BootRepeatedly(const Config& config, int boots) {
  Row row;
  for (int i = 0; i < boots; ++i) {
    VmSpec spec;
    spec.image = config.image;
    spec.accel = config.accel;
    spec.machine = config.machine;
    spec.cpu_model = config.cpu_model;
    spec.tsc_khz = HostTscKhz();
    absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Start(spec, "");
    if (!vm.ok()) {
      row.failure = std::string(vm.status().message());
      break;
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    const bool booted = (*vm)->WaitForBoot(deadline) && (*vm)->WaitForStages(deadline);
    const ProcessResult outcome = (*vm)->Stop();
    if (!booted) {
      row.failure = absl::StrCat("did not boot: QEMU ", outcome.Describe());
      break;
    }
    row.to_userspace.add_values(absl::ToDoubleSeconds((*vm)->time_to_userspace()));
    const absl::StatusOr<BootStages> stages = (*vm)->stages();
    if (!stages.ok()) {
      row.failure = std::string(stages.status().message());
      continue;
    }
    row.vmm_start.add_values(absl::ToDoubleSeconds(stages->vmm_start));
    row.kernel.add_values(absl::ToDoubleSeconds(stages->kernel));
    row.userspace.add_values(absl::ToDoubleSeconds(stages->userspace));
  }
  for (farm::v1::Measurement* m : {&row.to_userspace, &row.vmm_start, &row.kernel, &row.userspace})
    Summarize(m);
  return row;
}

absl::StatusOr<std::vector<Config>> Configs(const std::string& image_dir,
                                            const std::string& runfiles) {
  ASSIGN_OR_RETURN(const GuestImage kvmfarm, ResolveImage(image_dir, "x86_64"));
  ASSIGN_OR_RETURN(const GuestImage debian, ResolveImage(image_dir, "x86_64-debian"));
  GuestImage stock = debian;
  stock.kernel = runfiles + "/guest_images/bzimage-x86_64";
  std::vector<Config> configs;
  std::vector<farm::v1::Mode> modes = {farm::v1::MODE_TCG};
  if (absl::GetFlag(FLAGS_kvm) && access("/dev/kvm", R_OK | W_OK) == 0) {
    modes.push_back(farm::v1::MODE_KVM);
  }
  for (const farm::v1::Mode mode : modes) {
    const std::string accel = mode == farm::v1::MODE_KVM ? "KVM" : "TCG";
    configs.push_back({accel + "  pc + bzImage, Debian (stock)", mode, "pc", stock, ""});
    configs.push_back({accel + "  microvm + vmlinux, Debian", mode, "", debian, ""});
    configs.push_back({accel + "  microvm + vmlinux, kvmfarm", mode, "", kvmfarm, ""});
  }
  if (absl::GetFlag(FLAGS_arm64)) {
    ASSIGN_OR_RETURN(const GuestImage arm64, ResolveImage(image_dir, "arm64"));
    ASSIGN_OR_RETURN(const GuestImage arm64_debian, ResolveImage(image_dir, "arm64-debian"));
    configs.push_back({"TCG  arm64 virt, Debian", farm::v1::MODE_TCG, "", arm64_debian, ""});
    configs.push_back({"TCG  arm64 virt, kvmfarm", farm::v1::MODE_TCG, "", arm64, ""});
  }
  return configs;
}

int Main(const std::string& runfiles) {
  const std::string image_dir = !absl::GetFlag(FLAGS_image_dir).empty()
                                    ? absl::GetFlag(FLAGS_image_dir)
                                    : RealImageDirBehindLinks(runfiles + "/guest_images/images");
  const absl::StatusOr<std::vector<Config>> configs = Configs(image_dir, runfiles);
  if (!configs.ok()) {
    std::fprintf(stderr, "boot_benchmark: %s\n", std::string(configs.status().message()).c_str());
    return 1;
  }
  std::printf("%-36s %7s %7s %7s %8s | %9s %7s %9s | %s\n", "configuration", "median", "min", "max",
              "vs stock", "vmm_start", "kernel", "userspace", "boots");
  double stock_median = 0;
  for (const Config& config : *configs) {
    const Row row = BootRepeatedly(config, absl::GetFlag(FLAGS_boots));
    if (row.to_userspace.values().empty()) {
      std::printf("%-36s %s\n", config.label.c_str(), row.failure.c_str());
      continue;
    }
    // The stock PC boot is the reference of the x86-64 rows after it (same accelerator).
    if (config.machine == "pc") stock_median = row.to_userspace.median();
    const std::string ratio =
        config.image.arch == farm::v1::CPU_ARCH_X86_64 && stock_median > 0
            ? absl::StrFormat("%.2f", row.to_userspace.median() / stock_median)
            : "";
    std::printf("%-36s %6.3fs %6.3fs %6.3fs %8s | %8.3fs %6.3fs %8.3fs | %d%s\n",
                config.label.c_str(), row.to_userspace.median(), row.to_userspace.min(),
                row.to_userspace.max(), ratio.c_str(), row.vmm_start.median(), row.kernel.median(),
                row.userspace.median(), row.to_userspace.values_size(),
                row.failure.empty() ? "" : ("  " + row.failure).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace kvmfarm::vm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "times the reference guest's boots and their stages: the stock x86-64 PC boot, "
      "microvm with Debian's kernel and kvmfarm's, and arm64 with each");
  kvmfarm::ParseCommandLineFlags(argc, argv);
  const std::string runfiles = std::string(argv[0]) + ".runfiles/kvmfarm";
  return kvmfarm::vm::Main(runfiles);
}
