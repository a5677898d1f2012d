#include "agent/probe/kernel_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"
#include "common/utf8.h"

namespace kvmfarm::probe {
namespace {

constexpr size_t kMaxLogBytes = 32 << 20;

// "[    0.000000] CPU: All CPU(s) started at EL2" -> "CPU: All CPU(s) started at EL2".
absl::string_view StripTimestamp(absl::string_view line) {
  line = absl::StripLeadingAsciiWhitespace(line);
  if (!line.empty() && line.front() == '[') {
    const size_t close = line.find(']');
    if (close != absl::string_view::npos) line = line.substr(close + 1);
  }
  return absl::StripAsciiWhitespace(line);
}

// Turns /dev/kmsg records ("6,339,5140900,-;message") into dmesg-like lines.
std::string KmsgToText(const std::vector<std::string>& records) {
  std::string text;
  for (const std::string& record : records) {
    const size_t semicolon = record.find(';');
    absl::string_view message = semicolon == std::string::npos
                                    ? absl::string_view(record)
                                    : absl::string_view(record).substr(semicolon + 1);
    // Continuation lines (" KEY=value") follow a newline; keep the first line.
    message = message.substr(0, message.find('\n'));
    absl::StrAppend(&text, message, "\n");
  }
  return text;
}

absl::StatusOr<std::string> ReadKmsg() {
  const int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat("/dev/kmsg: ", std::strerror(errno)));
  }
  std::vector<std::string> records;
  size_t total = 0;
  char buffer[8192];
  while (total < kMaxLogBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) continue;  // a record was overwritten; go on
      break;                         // EAGAIN: the end of the buffer
    }
    if (n == 0) break;
    records.emplace_back(buffer, static_cast<size_t>(n));
    total += static_cast<size_t>(n);
  }
  ::close(fd);
  if (records.empty()) return absl::UnavailableError("/dev/kmsg returned no records");
  return ValidUtf8(KmsgToText(records));
}

}  // namespace

void ParseKernelLog(absl::string_view log, farm::v1::BootModeEvidence* evidence) {
  for (absl::string_view raw : absl::StrSplit(log, '\n')) {
    const absl::string_view line = StripTimestamp(raw);
    bool evidence_line = true;
    if (absl::StrContains(line, "started at EL2")) {
      evidence->set_exception_level(farm::v1::EXCEPTION_LEVEL_EL2);
    } else if (absl::StrContains(line, "started at EL1")) {
      evidence->set_exception_level(farm::v1::EXCEPTION_LEVEL_EL1);
    } else if (absl::StrContains(line, "started in inconsistent modes")) {
      evidence->set_exception_level(farm::v1::EXCEPTION_LEVEL_INCONSISTENT);
    } else if (absl::StrContains(line, "HYP mode not available")) {
      evidence->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_NONE);
    } else if (absl::StrContains(line, "Protected nVHE mode initialized successfully")) {
      evidence->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_PROTECTED);
    } else if (absl::StrContains(line, "VHE mode initialized successfully") &&
               !absl::StrContains(line, "nVHE")) {
      evidence->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_VHE);
    } else if (absl::StrContains(line, "Hyp mode initialized successfully") ||
               absl::StrContains(line, "Hyp nVHE mode initialized successfully")) {
      evidence->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_NVHE);
    } else if (absl::StrContains(line, "IPA Size Limit:")) {
      // "kvm [1]: IPA Size Limit: 40 bits"
      absl::string_view rest = line.substr(line.find("IPA Size Limit:") + 15);
      rest = absl::StripAsciiWhitespace(rest);
      uint32_t bits = 0;
      if (absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &bits)) {
        evidence->set_ipa_size_limit_bits(bits);
      }
    } else if (absl::StartsWith(line, "Hypervisor detected: ")) {
      evidence->set_hypervisor_detected(
          std::string(absl::StripAsciiWhitespace(line.substr(strlen("Hypervisor detected: ")))));
    } else if (absl::StartsWith(line, "kvm: ") || absl::StartsWith(line, "kvm-pvm: ") ||
               absl::StartsWith(line, "kvm_intel: ") || absl::StartsWith(line, "kvm_amd: ") ||
               absl::StartsWith(line, "gunyah") || absl::StartsWith(line, "gzvm")) {
      // x86 and vendor hypervisor module lines: evidence only.
    } else {
      evidence_line = false;
    }
    if (evidence_line && evidence->evidence_lines_size() < 32) {
      evidence->add_evidence_lines(std::string(line));
    }
  }
}

absl::StatusOr<std::string> ReadKernelLog(const Sysroot& sysroot) {
  if (!sysroot.is_host()) {
    if (!sysroot.Exists("/dmesg.txt")) {
      return absl::NotFoundError("the fixture has no dmesg.txt (log not captured)");
    }
    return sysroot.ReadFile("/dmesg.txt", kMaxLogBytes);
  }
  ProcessSpec spec;
  spec.argv = {"dmesg"};
  spec.timeout = absl::Seconds(5);
  spec.max_output_bytes = kMaxLogBytes;
  absl::StatusOr<ProcessResult> result = RunProcess(spec);
  std::string dmesg_problem;
  if (result.ok() && result->Succeeded() && !result->stdout_data.empty()) {
    return ValidUtf8(result->stdout_data);
  }
  dmesg_problem = result.ok() ? absl::StrCat("dmesg ", result->Describe(), ": ",
                                             absl::StripAsciiWhitespace(result->stderr_data))
                              : std::string(result.status().message());
  absl::StatusOr<std::string> kmsg = ReadKmsg();
  if (kmsg.ok()) return kmsg;
  return absl::PermissionDeniedError(
      absl::StrCat(dmesg_problem, "; ", kmsg.status().message(),
                   " (SELinux or kernel.dmesg_restrict deny the log to this user)"));
}

void ReadBootModeEvidence(const Sysroot& sysroot, farm::v1::CpuArch arch,
                          farm::v1::BootModeEvidence* evidence, Checks* checks) {
  const bool arm64 = arch == farm::v1::CPU_ARCH_ARM64;
  absl::StatusOr<std::string> log = ReadKernelLog(sysroot);
  const std::string source = sysroot.is_host() ? "dmesg" : "dmesg.txt";
  if (!log.ok()) {
    evidence->set_log_readable(false);
    evidence->set_log_unreadable_reason(std::string(log.status().message()));
    evidence->set_exception_level(arm64 ? farm::v1::EXCEPTION_LEVEL_UNKNOWN
                                        : farm::v1::EXCEPTION_LEVEL_NOT_APPLICABLE);
    evidence->set_kvm_arm_mode(arm64 ? farm::v1::KVM_ARM_MODE_UNKNOWN
                                     : farm::v1::KVM_ARM_MODE_NOT_APPLICABLE);
    AddCheck(checks, "kernel.log", farm::v1::OUTCOME_SKIP,
             absl::StrCat("kernel log unreadable: ", log.status().message()), source);
    return;
  }
  evidence->set_log_readable(true);
  ParseKernelLog(*log, evidence);
  if (!arm64) {
    evidence->set_exception_level(farm::v1::EXCEPTION_LEVEL_NOT_APPLICABLE);
    evidence->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_NOT_APPLICABLE);
    return;
  }

  auto line_with = [&](absl::string_view needle) -> std::string {
    for (const std::string& line : evidence->evidence_lines()) {
      if (absl::StrContains(line, needle)) return line;
    }
    return "";
  };
  switch (evidence->exception_level()) {
    case farm::v1::EXCEPTION_LEVEL_EL2:
      AddCheck(checks, "boot.exception_level", farm::v1::OUTCOME_PASS, line_with("started at EL2"),
               source);
      break;
    case farm::v1::EXCEPTION_LEVEL_EL1:
      AddCheck(checks, "boot.exception_level", farm::v1::OUTCOME_FAIL,
               absl::StrCat(line_with("started at EL1"),
                            ": the kernel did not get EL2 (the firmware or a vendor hypervisor "
                            "keeps it), so KVM can't run"),
               source);
      break;
    case farm::v1::EXCEPTION_LEVEL_INCONSISTENT:
      AddCheck(checks, "boot.exception_level", farm::v1::OUTCOME_WARN,
               line_with("inconsistent modes"), source);
      break;
    default:
      evidence->set_exception_level(farm::v1::EXCEPTION_LEVEL_UNKNOWN);
      AddCheck(checks, "boot.exception_level", farm::v1::OUTCOME_SKIP,
               "the kernel log has no 'CPU(s) started at EL' line (rotated out?)", source);
  }
  switch (evidence->kvm_arm_mode()) {
    case farm::v1::KVM_ARM_MODE_VHE:
    case farm::v1::KVM_ARM_MODE_NVHE:
    case farm::v1::KVM_ARM_MODE_PROTECTED:
      AddCheck(checks, "kvm.arm_mode", farm::v1::OUTCOME_PASS,
               line_with("initialized successfully"), source);
      break;
    case farm::v1::KVM_ARM_MODE_NONE:
      AddCheck(checks, "kvm.arm_mode", farm::v1::OUTCOME_FAIL, line_with("HYP mode not available"),
               source);
      break;
    default:
      evidence->set_kvm_arm_mode(farm::v1::KVM_ARM_MODE_UNKNOWN);
      AddCheck(checks, "kvm.arm_mode", farm::v1::OUTCOME_SKIP,
               "the kernel log has no KVM initialisation line", source);
  }
}

}  // namespace kvmfarm::probe
