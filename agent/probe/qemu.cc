#include "agent/probe/qemu.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/vm/qemu_launch.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/utf8.h"

namespace kvmfarm::probe {
namespace {

constexpr absl::Duration kQueryTimeout = absl::Seconds(10);

absl::StatusOr<ProcessResult> RunQuick(const vm::QemuLaunch& qemu, std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = qemu.argv;
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.timeout = kQueryTimeout;
  spec.max_output_bytes = 1 << 20;
  return RunProcess(spec);
}

farm::v1::CpuArch GuestArch(absl::string_view path) {
  if (absl::EndsWith(path, "aarch64")) return farm::v1::CPU_ARCH_ARM64;
  if (absl::EndsWith(path, "x86_64")) return farm::v1::CPU_ARCH_X86_64;
  if (absl::EndsWith(path, "-arm")) return farm::v1::CPU_ARCH_ARM;
  if (absl::EndsWith(path, "i386")) return farm::v1::CPU_ARCH_X86;
  return farm::v1::CPU_ARCH_OTHER;
}

}  // namespace

std::vector<std::string> ParseAccelHelp(absl::string_view text) {
  std::vector<std::string> accels;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StrContains(line, ":") || absl::StrContains(line, " ")) {
      continue;  // the "Accelerators supported in QEMU binary:" header
    }
    accels.emplace_back(line);
  }
  return accels;
}

absl::StatusOr<farm::v1::QemuBinary> QueryQemu(const std::string& path) {
  ASSIGN_OR_RETURN(const vm::QemuLaunch launch, vm::ResolveQemuLaunch(path));
  farm::v1::QemuBinary qemu;
  qemu.set_path(path);
  qemu.set_guest_arch(GuestArch(launch.emulator));
  qemu.set_bundled(launch.bundled);
  ASSIGN_OR_RETURN(ProcessResult version, RunQuick(launch, {"--version"}));
  if (!version.Succeeded()) {
    return absl::UnavailableError(absl::StrCat(path, " --version ", version.Describe()));
  }
  const std::string version_text = ValidUtf8(version.stdout_data);
  qemu.set_version(std::string(absl::StripAsciiWhitespace(
      absl::string_view(version_text).substr(0, version_text.find('\n')))));
  absl::StatusOr<ProcessResult> accel = RunQuick(launch, {"-accel", "help"});
  if (accel.ok() && accel->Succeeded()) {
    for (const std::string& name : ParseAccelHelp(ValidUtf8(accel->stdout_data))) {
      qemu.add_accelerators(name);
      if (name == "kvm") qemu.set_kvm_supported(true);
    }
  }
  return qemu;
}

std::vector<farm::v1::QemuBinary> FindQemu(const Sysroot& sysroot, const std::string& qemu_flag,
                                           Checks* checks) {
  std::vector<farm::v1::QemuBinary> found;
  if (!sysroot.is_host()) {
    AddCheck(checks, "qemu", farm::v1::OUTCOME_SKIP, "fixture tree: the device's QEMU is not known",
             "fixture tree");
    return found;
  }
  std::vector<std::string> candidates;
  std::vector<std::string> problems;
  if (!qemu_flag.empty()) {
    candidates.push_back(qemu_flag);
  } else {
    const char* path_env = std::getenv("PATH");
    for (const char* name : {"qemu-system-x86_64", "qemu-system-aarch64"}) {
      absl::StatusOr<std::string> path =
          FindProgram(name, path_env != nullptr ? path_env : "/usr/bin:/bin");
      if (path.ok()) candidates.push_back(*path);
    }
  }
  for (const std::string& path : candidates) {
    absl::StatusOr<farm::v1::QemuBinary> qemu = QueryQemu(path);
    if (qemu.ok()) {
      found.push_back(*qemu);
    } else {
      problems.push_back(std::string(qemu.status().message()));
    }
  }
  if (found.empty()) {
    AddCheck(checks, "qemu", farm::v1::OUTCOME_FAIL,
             problems.empty() ? "no qemu-system-x86_64 or qemu-system-aarch64 in PATH (give --qemu)"
                              : absl::StrJoin(problems, "; "),
             qemu_flag.empty() ? "PATH" : "--qemu");
    return found;
  }
  std::vector<std::string> lines;
  for (const farm::v1::QemuBinary& qemu : found) {
    lines.push_back(absl::StrCat(
        qemu.path(), qemu.bundled() ? " (bundle, through its loader; " : " (", qemu.version(),
        ", accelerators: ", absl::StrJoin(qemu.accelerators(), " "), ")"));
  }
  AddCheck(checks, "qemu", farm::v1::OUTCOME_PASS, absl::StrJoin(lines, "; "),
           qemu_flag.empty() ? "PATH" : "--qemu");
  return found;
}

}  // namespace kvmfarm::probe
