// Boots the x86_64 guest N times and prints median/min/max time to user space, for
// the PC machine with Debian's compressed kernel through the firmware and for the
// fast configuration (microvm, uncompressed vmlinux via PVH) side by side, under
// TCG and, where it works, KVM:
//   bazel run //guest_images:boot_benchmark [-- --boots=10]
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "agent/vm/image.h"
#include "agent/vm/qemu_command.h"
#include "agent/vm/vm.h"
#include "common/flags.h"
#include "common/measurement.h"

ABSL_FLAG(int32_t, boots, 10, "Boots per configuration.");
ABSL_FLAG(std::string, image_dir, "", "Image directory (default: the built one).");
ABSL_FLAG(bool, kvm, true, "Also try KVM where /dev/kvm exists.");
ABSL_FLAG(bool, arm64, true,
          "Also the arm64 image under TCG: the agent's CPU model (cortex-a72) and -cpu max.");

namespace kvmfarm::vm {
namespace {

struct Config {
  std::string label;
  farm::v1::Mode accel;
  std::string machine;
  GuestImage image;
  std::string cpu_model;  // "" = the agent's choice
};

int Main(const std::string& runfiles) {
  const std::string image_dir = !absl::GetFlag(FLAGS_image_dir).empty()
                                    ? absl::GetFlag(FLAGS_image_dir)
                                    : RealImageDirBehindLinks(runfiles + "/guest_images/images");
  absl::StatusOr<GuestImage> image = ResolveImage(image_dir, "x86_64");
  if (!image.ok()) {
    std::fprintf(stderr, "boot_benchmark: %s\n", std::string(image.status().message()).c_str());
    return 1;
  }
  GuestImage pc_image = *image;
  pc_image.kernel = runfiles + "/guest_images/bzimage-x86_64";
  std::vector<Config> configs = {
      {"TCG  pc + bzImage (firmware)", farm::v1::MODE_TCG, "pc", pc_image, ""},
      {"TCG  microvm + vmlinux (PVH)", farm::v1::MODE_TCG, "", *image, ""},
  };
  if (absl::GetFlag(FLAGS_kvm) && access("/dev/kvm", R_OK | W_OK) == 0) {
    configs.push_back({"KVM  pc + bzImage (firmware)", farm::v1::MODE_KVM, "pc", pc_image, ""});
    configs.push_back({"KVM  microvm + vmlinux (PVH)", farm::v1::MODE_KVM, "", *image, ""});
  }
  if (absl::GetFlag(FLAGS_arm64)) {
    absl::StatusOr<GuestImage> arm64 = ResolveImage(image_dir, "arm64");
    if (!arm64.ok()) {
      std::fprintf(stderr, "boot_benchmark: %s\n", std::string(arm64.status().message()).c_str());
      return 1;
    }
    configs.push_back({"TCG  arm64 virt, cortex-a72", farm::v1::MODE_TCG, "", *arm64, ""});
    configs.push_back({"TCG  arm64 virt, -cpu max", farm::v1::MODE_TCG, "", *arm64, "max"});
  }
  std::printf("%-30s %8s %8s %8s  %s\n", "configuration", "median", "min", "max", "boots");
  for (const Config& config : configs) {
    std::vector<double> seconds;
    std::string failure;
    for (int i = 0; i < absl::GetFlag(FLAGS_boots); ++i) {
      VmSpec spec;
      spec.image = config.image;
      spec.accel = config.accel;
      spec.machine = config.machine;
      spec.cpu_model = config.cpu_model;
      spec.tsc_khz = HostTscKhz();
      absl::StatusOr<std::unique_ptr<Vm>> vm = Vm::Start(spec, "");
      if (!vm.ok()) {
        failure = std::string(vm.status().message());
        break;
      }
      const bool booted = (*vm)->WaitForBoot(absl::Now() + absl::Seconds(60));
      if (booted) seconds.push_back(absl::ToDoubleSeconds((*vm)->time_to_userspace()));
      const ProcessResult outcome = (*vm)->Stop();
      if (!booted) {
        failure = absl::StrCat("did not boot: QEMU ", outcome.Describe());
        break;
      }
    }
    if (seconds.empty()) {
      std::printf("%-30s %s\n", config.label.c_str(), failure.c_str());
      continue;
    }
    farm::v1::Measurement m;
    for (double s : seconds) m.add_values(s);
    Summarize(&m);
    std::printf("%-30s %7.3fs %7.3fs %7.3fs  %d%s\n", config.label.c_str(), m.median(), m.min(),
                m.max(), m.values_size(), failure.empty() ? "" : ("  " + failure).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace kvmfarm::vm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "times guest boots to user space: x86-64 PC/bzImage vs microvm/vmlinux, and arm64");
  kvmfarm::ParseCommandLineFlags(argc, argv);
  const std::string runfiles = std::string(argv[0]) + ".runfiles/kvmfarm";
  return kvmfarm::vm::Main(runfiles);
}
