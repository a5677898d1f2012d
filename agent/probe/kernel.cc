#include "agent/probe/kernel.h"

#include <zlib.h>

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvmfarm::probe {
namespace {

// The options worth reporting beside CONFIG_KVM / CONFIG_VIRTUALIZATION.
bool IsKvmOption(absl::string_view name) {
  return absl::StartsWith(name, "CONFIG_KVM_") || name == "CONFIG_PROTECTED_NVHE_STACKTRACE" ||
         name == "CONFIG_ARM64_VHE" || name == "CONFIG_VHOST" || name == "CONFIG_VHOST_VSOCK" ||
         name == "CONFIG_GUNYAH" || name == "CONFIG_VIRTIO_MMIO";
}

void AddConfigCheck(const KernelConfig& config, const std::string& source, absl::string_view option,
                    Checks* checks, absl::optional<bool>* value_out) {
  const std::string check_name = absl::StrCat("kernel.", absl::AsciiStrToLower(option.substr(7)));
  auto it = config.find(std::string(option));
  const bool set = it != config.end() && (it->second == "y" || it->second == "m");
  *value_out = set;
  AddCheck(checks, check_name, set ? farm::v1::OUTCOME_PASS : farm::v1::OUTCOME_FAIL,
           set ? absl::StrCat(option, "=", it->second) : absl::StrCat(option, " is not set"),
           source);
}

// "<device path>: absent" rather than the sysroot's real path, so a report reads
// the same on the device and for its fixture.
std::string Problem(absl::string_view device_path, const absl::Status& status) {
  if (absl::IsNotFound(status)) return absl::StrCat(device_path, " absent");
  if (absl::IsPermissionDenied(status)) return absl::StrCat(device_path, " not readable");
  return absl::StrCat(device_path, ": ", status.message());
}

}  // namespace

absl::StatusOr<KernelConfig> ParseKernelConfig(absl::string_view text) {
  KernelConfig config;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StartsWith(line, "# CONFIG_") && absl::EndsWith(line, " is not set")) {
      const absl::string_view name =
          line.substr(2, line.size() - 2 - std::string(" is not set").size());
      config[std::string(name)] = "n";
      continue;
    }
    if (!absl::StartsWith(line, "CONFIG_")) continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    std::string value(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    config[std::string(line.substr(0, eq))] = value;
  }
  if (config.empty()) {
    return absl::InvalidArgumentError("not a kernel config: no CONFIG_ lines");
  }
  return config;
}

absl::StatusOr<std::string> Gunzip(absl::string_view compressed, size_t max_bytes) {
  z_stream stream = {};
  // 16 + MAX_WBITS: expect a gzip header.
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("zlib inflateInit2 failed");
  }
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  std::vector<char> buffer(256 * 1024);
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer.data());
    stream.avail_out = static_cast<uInt>(buffer.size());
    rc = inflate(&stream, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&stream);
      if (rc == Z_BUF_ERROR) return absl::DataLossError("gzip data is truncated");
      return absl::DataLossError(absl::StrCat(
          "gzip data is corrupt: ", stream.msg != nullptr ? stream.msg : "inflate error"));
    }
    out.append(buffer.data(), buffer.size() - stream.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&stream);
      return absl::OutOfRangeError(absl::StrCat("gzip data inflates beyond ", max_bytes, " bytes"));
    }
    if (rc == Z_OK && stream.avail_in == 0 && stream.avail_out != 0) {
      inflateEnd(&stream);
      return absl::DataLossError("gzip data is truncated");
    }
  }
  inflateEnd(&stream);
  return out;
}

std::string KernelReleaseFromVersion(absl::string_view proc_version) {
  std::vector<absl::string_view> words =
      absl::StrSplit(absl::StripAsciiWhitespace(proc_version), ' ', absl::SkipEmpty());
  if (words.size() >= 3 && words[0] == "Linux" && words[1] == "version") {
    return std::string(words[2]);
  }
  return "";
}

std::string KvmArmModeArg(absl::string_view cmdline) {
  std::string mode;
  for (absl::string_view word :
       absl::StrSplit(cmdline, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&word, "kvm-arm.mode=")) mode = std::string(word);
  }
  return mode;  // the last one wins, as in the kernel
}

void ReadKernelEvidence(const Sysroot& sysroot, absl::string_view release,
                        farm::v1::KernelEvidence* evidence, Checks* checks) {
  if (sysroot.Exists("/sys/module")) {
    evidence->set_kvm_module_present(sysroot.Exists("/sys/module/kvm"));
  }
  // The config: /proc/config.gz is what the running kernel was built with; a
  // /boot file may belong to it if the release matches.
  absl::StatusOr<KernelConfig> config = absl::NotFoundError("no config");
  std::string source;
  std::vector<std::string> problems;
  absl::StatusOr<std::string> gz = sysroot.ReadBytes("/proc/config.gz");
  if (gz.ok()) {
    absl::StatusOr<std::string> text = Gunzip(*gz);
    config = text.ok() ? ParseKernelConfig(*text) : text.status();
    if (config.ok()) {
      source = "/proc/config.gz";
    } else {
      problems.push_back(Problem("/proc/config.gz", config.status()));
    }
  } else {
    problems.push_back(Problem("/proc/config.gz", gz.status()));
  }
  if (!config.ok() && !release.empty()) {
    const std::string boot = absl::StrCat("/boot/config-", release);
    absl::StatusOr<std::string> text = sysroot.ReadFile(boot);
    if (text.ok()) {
      config = ParseKernelConfig(*text);
      if (config.ok()) {
        source = boot;
      } else {
        problems.push_back(Problem(boot, config.status()));
      }
    } else {
      problems.push_back(Problem(boot, text.status()));
    }
  }

  if (config.ok()) {
    evidence->set_config_source(source);
    absl::optional<bool> kvm, virtualization;
    AddConfigCheck(*config, source, "CONFIG_VIRTUALIZATION", checks, &virtualization);
    AddConfigCheck(*config, source, "CONFIG_KVM", checks, &kvm);
    evidence->set_config_kvm(*kvm);
    evidence->set_config_virtualization(*virtualization);
    for (const auto& [name, value] : *config) {
      if (IsKvmOption(name) && (value == "y" || value == "m")) {
        evidence->add_kvm_options(absl::StrCat(name, "=", value));
      }
    }
  } else {
    AddCheck(checks, "kernel.config", farm::v1::OUTCOME_SKIP,
             absl::StrCat("no readable kernel config, CONFIG_KVM unknown (",
                          absl::StrJoin(problems, "; "), ")"),
             "/proc/config.gz");
  }

  absl::StatusOr<std::string> cmdline = sysroot.ReadFile("/proc/cmdline", 64 * 1024);
  NoteUnreadable(cmdline.status(), "/proc/cmdline", checks);
  if (cmdline.ok()) {
    evidence->set_cmdline(std::string(absl::StripAsciiWhitespace(*cmdline)));
    const std::string mode = KvmArmModeArg(*cmdline);
    evidence->set_kvm_arm_mode_arg(mode);
    if (!mode.empty()) {
      AddCheck(checks, "kernel.kvm_arm_mode",
               mode == "none" ? farm::v1::OUTCOME_FAIL : farm::v1::OUTCOME_PASS,
               absl::StrCat("kvm-arm.mode=", mode,
                            mode == "none" ? ": KVM disabled on the command line" : ""),
               "/proc/cmdline");
    }
  }
}

}  // namespace kvmfarm::probe
