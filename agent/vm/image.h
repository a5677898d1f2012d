// -----------------------------------------------------------------------------
// File: image.h
// -----------------------------------------------------------------------------
//
// Guest images are referenced by name and resolved inside the agent's image
// directory (--image-dir): <dir>/<name>/{kernel,initramfs.cpio[.gz],image.conf}. A
// name is a single path component of letters, digits, '.', '_' and '-'; anything
// that could leave the directory ('/', '..') is refused, so the agent only ever
// boots what its operator put there. Links inside it are followed only as far as
// the directory's own tree: an image directory, or a file in one, that resolves
// outside it is refused, and QEMU is given the resolved paths. The directory itself
// may be a link (bazel-bin is one).
#ifndef KVMFARM_AGENT_VM_IMAGE_H_
#define KVMFARM_AGENT_VM_IMAGE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::vm {

struct GuestImage {
  std::string name;
  std::string kernel;     // absolute path
  std::string initramfs;  // absolute path
  farm::v1::CpuArch arch = farm::v1::CPU_ARCH_UNSPECIFIED;
  // Whether the initramfs carries farm-workload.
  bool has_workloads = false;
  // Whether the kernel needs ACPI to find its devices (x86 microvm). kvmfarm's own
  // kernels have none (image.conf acpi=no): microvm then writes an MP table and
  // puts the virtio-mmio devices on the kernel command line.
  bool acpi = true;
};

// Images are named by architecture: "x86_64" and "arm64" are the reference guest
// with kvmfarm's minimal kernel, the default for workloads and boot figures;
// "x86_64-debian" and "arm64-debian" the same guest with Debian's cloud kernel,
// which the capability boot check boots (KVM_READY means a distribution's Linux
// boots under the device's KVM).
inline constexpr char kDistributionSuffix[] = "-debian";

// INVALID_ARGUMENT for a bad name (says why), NOT_FOUND for a missing image or
// file (listing the images there are), FAILED_PRECONDITION for a garbled image.conf
// or an image or file that resolves outside `image_dir` (naming both).
absl::StatusOr<GuestImage> ResolveImage(const std::string& image_dir, const std::string& name);

// Applies an image.conf's `key=value` lines (arch=x86_64|arm64, workloads=yes,
// acpi=no) to `image`; other lines and keys are ignored. Reads at most the first
// 64 KiB.
void ApplyImageConf(absl::string_view text, GuestImage* image);

// The real directory behind a tree of links to images, such as Bazel's runfiles
// (a link per file, each leading out of the tree, so ResolveImage refuses them):
// where `dir`'s first image's kernel really lies, two levels up; `dir` itself when
// it has no images or its files are real. For tests and tools that find the built
// images in their runfiles.
std::string RealImageDirBehindLinks(const std::string& dir);

// The names of the usable images in `image_dir`, sorted.
std::vector<std::string> ListImages(const std::string& image_dir);

// The image named like the host's architecture ("x86_64", "arm64").
std::string HostImageName();

// The host's architecture's image with the distribution's kernel ("x86_64-debian"),
// which the capability boot check boots.
std::string DistributionImageName();

// The image a benchmark's guest config names: its image, or HostImageName() when
// it names none.
std::string GuestImageName(const farm::v1::GuestConfig& guest);

// The architecture this agent was built for (its host's).
farm::v1::CpuArch HostArch();

// The name image.conf gives `arch` ("x86_64", "arm64"); "" for others.
std::string ArchName(farm::v1::CpuArch arch);

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_IMAGE_H_
