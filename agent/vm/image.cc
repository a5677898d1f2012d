#include "agent/vm/image.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/image_name.h"
#include "common/status_macros.h"

namespace kvmfarm::vm {

constexpr size_t kMaxImageConfBytes = 64 * 1024;
namespace {

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, " does not exist"));
  }
  return std::string(resolved);
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// `path` with every link resolved, refused when that lies outside `root` (the image
// directory, itself resolved): a link in the image directory must not hand QEMU a
// file the operator did not put there (images/evil -> /elsewhere, kernel ->
// /etc/hostname).
absl::StatusOr<std::string> ResolveInside(const std::string& root, const std::string& name,
                                          const std::string& path) {
  ASSIGN_OR_RETURN(const std::string real, RealPath(path));
  if (!absl::StartsWith(real, absl::StrCat(root, "/"))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "guest image '", name, "': ", path, " resolves to ", real, ", outside the image directory ",
        root, "; the agent boots only files inside it (put the file itself there)"));
  }
  return real;
}

}  // namespace

farm::v1::CpuArch HostArch() {
#if defined(__aarch64__)
  return farm::v1::CPU_ARCH_ARM64;
#else
  return farm::v1::CPU_ARCH_X86_64;
#endif
}

std::string ArchName(farm::v1::CpuArch arch) {
  switch (arch) {
    case farm::v1::CPU_ARCH_X86_64:
      return "x86_64";
    case farm::v1::CPU_ARCH_ARM64:
      return "arm64";
    default:
      return "";
  }
}

std::string HostImageName() { return ArchName(HostArch()); }

std::string DistributionImageName() { return absl::StrCat(HostImageName(), kDistributionSuffix); }

std::string GuestImageName(const farm::v1::GuestConfig& guest) {
  return guest.image().empty() ? HostImageName() : guest.image();
}

std::string RealImageDirBehindLinks(const std::string& dir) {
  const std::vector<std::string> images = ListImages(dir);
  if (images.empty()) return dir;
  const std::string suffix = absl::StrCat("/", images.front(), "/kernel");
  absl::StatusOr<std::string> kernel = RealPath(absl::StrCat(dir, suffix));
  if (!kernel.ok() || !absl::EndsWith(*kernel, suffix)) return dir;
  return kernel->substr(0, kernel->size() - suffix.size());
}

std::vector<std::string> ListImages(const std::string& image_dir) {
  std::vector<std::string> names;
  for (const std::string& name : ListDirectory(image_dir)) {
    if (name[0] == '.') continue;
    if (IsFile(absl::StrCat(image_dir, "/", name, "/kernel"))) names.push_back(name);
  }
  return names;
}

absl::StatusOr<GuestImage> ResolveImage(const std::string& image_dir, const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("guest.image is required");
  RETURN_IF_ERROR(CheckImageName(name, "guest.image"));
  absl::StatusOr<std::string> root = RealPath(image_dir);
  if (!root.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the agent's image directory ", image_dir, " does not exist (--image-dir)"));
  }
  const std::string linked_dir = absl::StrCat(*root, "/", name);
  if (!IsDirectory(linked_dir)) {
    return absl::NotFoundError(absl::StrCat("no guest image '", name, "' in ", *root, " (images: ",
                                            absl::StrJoin(ListImages(*root), ", "), ")"));
  }
  ASSIGN_OR_RETURN(const std::string dir, ResolveInside(*root, name, linked_dir));
  GuestImage image;
  image.name = name;
  image.kernel = absl::StrCat(dir, "/kernel");
  // An uncompressed initramfs spares the guest's kernel the gunzip.
  image.initramfs = absl::StrCat(dir, "/initramfs.cpio");
  if (!IsFile(image.initramfs)) image.initramfs = absl::StrCat(dir, "/initramfs.cpio.gz");
  for (std::string* path : {&image.kernel, &image.initramfs}) {
    if (!IsFile(*path)) {
      return absl::NotFoundError(
          absl::StrCat("guest image '", name, "' has no ", path->substr(dir.size() + 1),
                       path == &image.initramfs ? " (nor initramfs.cpio)" : ""));
    }
    // QEMU gets the resolved path, so what was checked is what it opens.
    ASSIGN_OR_RETURN(*path, ResolveInside(*root, name, *path));
  }
  std::ifstream conf(absl::StrCat(dir, "/image.conf"), std::ios::binary);
  std::string text(kMaxImageConfBytes, '\0');
  conf.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(std::max<std::streamsize>(0, conf.gcount())));
  ApplyImageConf(text, &image);
  if (image.arch != farm::v1::CPU_ARCH_X86_64 && image.arch != farm::v1::CPU_ARCH_ARM64) {
    return absl::FailedPreconditionError(
        absl::StrCat("guest image '", name, "': image.conf has no arch=x86_64|arm64"));
  }
  return image;
}

void ApplyImageConf(absl::string_view text, GuestImage* image) {
  text = text.substr(0, kMaxImageConfBytes);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (key == "arch") {
      image->arch = value == "x86_64"  ? farm::v1::CPU_ARCH_X86_64
                    : value == "arm64" ? farm::v1::CPU_ARCH_ARM64
                                       : farm::v1::CPU_ARCH_OTHER;
    } else if (key == "workloads") {
      image->has_workloads = value == "yes";
    } else if (key == "acpi") {
      image->acpi = value != "no";
    }
  }
}

}  // namespace kvmfarm::vm
