#include "agent/vm/qemu_launch.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/files.h"

namespace kvmfarm::vm {

absl::StatusOr<QemuLaunch> ResolveQemuLaunch(const std::string& qemu) {
  QemuLaunch launch;
  if (!IsDirectory(qemu)) {
    launch.argv = {qemu};
    launch.emulator = qemu.substr(qemu.rfind('/') + 1);
    return launch;
  }
  std::string loader;
  std::vector<std::string> emulators;
  for (const std::string& name : ListDirectory(qemu)) {
    if (absl::StartsWith(name, "ld-linux")) loader = name;
    if (absl::StartsWith(name, "qemu-system-")) emulators.push_back(name);
  }
  std::vector<std::string> missing;
  if (loader.empty()) missing.push_back("glibc's loader (ld-linux-*)");
  if (emulators.empty()) missing.push_back("a qemu-system-* binary");
  if (!IsDirectory(qemu + "/lib")) missing.push_back("lib/");
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat("--qemu '", qemu, "' is a directory but not a QEMU ",
                                            "bundle: no ", absl::StrJoin(missing, ", no ")));
  }
  if (emulators.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("--qemu '", qemu, "' holds ",
                                                   absl::StrJoin(emulators, " and "),
                                                   ": a bundle carries one emulator"));
  }
  launch.bundled = true;
  launch.emulator = emulators[0];
  // --library-path is searched first and replaces LD_LIBRARY_PATH; --inhibit-cache
  // keeps a host's /etc/ld.so.cache out, so the bundle's own libraries are the ones
  // loaded (a phone has neither).
  launch.argv = {absl::StrCat(qemu, "/", loader), "--inhibit-cache", "--library-path",
                 qemu + "/lib", absl::StrCat(qemu, "/", launch.emulator)};
  if (IsDirectory(qemu + "/share/qemu")) {
    launch.argv.insert(launch.argv.end(), {"-L", qemu + "/share/qemu"});
  }
  return launch;
}

}  // namespace kvmfarm::vm
