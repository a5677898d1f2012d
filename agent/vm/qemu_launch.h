// -----------------------------------------------------------------------------
// File: qemu_launch.h
// -----------------------------------------------------------------------------
//
// How to start the QEMU the operator named with --qemu. Either a binary that runs
// as is (from PATH, Termux's, a static build), or a *bundle*: a glibc-linked QEMU
// carried to a device without glibc (an Android phone) together with its shared
// libraries and glibc's own loader, and started through that loader:
//
//   DIR/ld-linux-aarch64.so.1 (or ld-linux-x86-64.so.2)   glibc's dynamic loader
//   DIR/lib/                                              every shared library
//   DIR/qemu-system-aarch64 (or qemu-system-x86_64)       QEMU itself
//   DIR/share/qemu/                                       firmware, if any
//
// tools/deploy/make_qemu_bundle.sh makes one from Debian's packages.
//
// Example:
//
//   absl::StatusOr<QemuLaunch> qemu = ResolveQemuLaunch("/data/local/tmp/kvmfarm/qemu");
//   argv = qemu->argv;  // {".../ld-linux-aarch64.so.1", "--inhibit-cache",
//                       //  "--library-path", ".../lib", ".../qemu-system-aarch64"}
//   argv.push_back("--version");
#ifndef KVMFARM_AGENT_VM_QEMU_LAUNCH_H_
#define KVMFARM_AGENT_VM_QEMU_LAUNCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kvmfarm::vm {

struct QemuLaunch {
  // The start of QEMU's command line; QEMU's own arguments follow.
  std::vector<std::string> argv;
  // The emulator's file name ("qemu-system-aarch64"): says which guests it runs.
  std::string emulator;
  // True for a bundle started through its loader.
  bool bundled = false;
};

// `qemu` is a program (a path, or a name looked up in PATH by the process runner)
// or a bundle directory. A directory that isn't a complete bundle is an error
// naming what is missing.
absl::StatusOr<QemuLaunch> ResolveQemuLaunch(const std::string& qemu);

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_QEMU_LAUNCH_H_
