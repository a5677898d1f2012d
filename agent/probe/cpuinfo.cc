#include "agent/probe/cpuinfo.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/cpuinfo_fields.h"

namespace kvmfarm::probe {
namespace {

struct ArmPart {
  unsigned implementer;
  unsigned part;
  const char* name;
};

// From the Arm Technical Reference Manuals' MIDR_EL1 values and Linux's
// arch/arm64/include/asm/cputype.h.
constexpr ArmPart kArmParts[] = {
    {0x41, 0xd03, "Cortex-A53"},    {0x41, 0xd04, "Cortex-A35"},
    {0x41, 0xd05, "Cortex-A55"},    {0x41, 0xd07, "Cortex-A57"},
    {0x41, 0xd08, "Cortex-A72"},    {0x41, 0xd09, "Cortex-A73"},
    {0x41, 0xd0a, "Cortex-A75"},    {0x41, 0xd0b, "Cortex-A76"},
    {0x41, 0xd0c, "Neoverse-N1"},   {0x41, 0xd0d, "Cortex-A77"},
    {0x41, 0xd40, "Neoverse-V1"},   {0x41, 0xd41, "Cortex-A78"},
    {0x41, 0xd44, "Cortex-X1"},     {0x41, 0xd46, "Cortex-A510"},
    {0x41, 0xd47, "Cortex-A710"},   {0x41, 0xd48, "Cortex-X2"},
    {0x41, 0xd49, "Neoverse-N2"},   {0x41, 0xd4b, "Cortex-A78C"},
    {0x41, 0xd4d, "Cortex-A715"},   {0x41, 0xd4e, "Cortex-X3"},
    {0x41, 0xd4f, "Neoverse-V2"},   {0x41, 0xd80, "Cortex-A520"},
    {0x41, 0xd81, "Cortex-A720"},   {0x41, 0xd82, "Cortex-X4"},
    {0x41, 0xd85, "Cortex-X925"},   {0x41, 0xd87, "Cortex-A725"},
    {0x51, 0x800, "Kryo 280 Gold"}, {0x51, 0x801, "Kryo 280 Silver"},
    {0x51, 0x802, "Kryo 385 Gold"}, {0x51, 0x803, "Kryo 385 Silver"},
    {0x51, 0x804, "Kryo 485 Gold"}, {0x51, 0x805, "Kryo 485 Silver"},
    {0x51, 0xc00, "Falkor"},        {0x51, 0x001, "Oryon"},
    {0x61, 0x000, "Apple Swift"},
};

unsigned ParseHex(absl::string_view text) {
  return static_cast<unsigned>(std::strtoul(std::string(text).c_str(), nullptr, 16));
}

farm::v1::CpuArch ArchFromEntries(const std::vector<std::map<std::string, std::string>>& entries) {
  const auto& first = entries.front();
  if (first.count("CPU implementer")) {
    auto it = first.find("CPU architecture");
    // "CPU architecture: 8" on arm64 and on 32-bit kernels of 64-bit cores; a
    // 32-bit kernel says "model name : ARMv7 Processor".
    if (first.count("model name") && absl::StrContains(first.at("model name"), "ARMv7")) {
      return farm::v1::CPU_ARCH_ARM;
    }
    if (it != first.end() && it->second == "7") return farm::v1::CPU_ARCH_ARM;
    return farm::v1::CPU_ARCH_ARM64;
  }
  if (first.count("vendor_id") || first.count("flags")) {
    auto flags = first.find("flags");
    if (flags != first.end()) {
      for (absl::string_view flag : absl::StrSplit(flags->second, ' ')) {
        if (flag == "lm") return farm::v1::CPU_ARCH_X86_64;
      }
      return farm::v1::CPU_ARCH_X86;
    }
    return farm::v1::CPU_ARCH_X86_64;
  }
  if (first.count("isa") && absl::StartsWith(first.at("isa"), "rv64")) {
    return farm::v1::CPU_ARCH_RISCV64;
  }
  return farm::v1::CPU_ARCH_OTHER;
}

}  // namespace

std::string ArmCoreName(absl::string_view implementer, absl::string_view part) {
  const unsigned impl = ParseHex(implementer);
  const unsigned id = ParseHex(part);
  for (const ArmPart& p : kArmParts) {
    if (p.implementer == impl && p.part == id) return p.name;
  }
  return "";
}

absl::StatusOr<CpuInfo> ParseCpuinfo(absl::string_view text) {
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError("/proc/cpuinfo is empty");
  }
  CpuinfoFields fields = SplitCpuinfo(text);
  const std::vector<std::map<std::string, std::string>>& entries = fields.processors;
  std::map<std::string, std::string>& global = fields.global;
  if (entries.empty()) {
    return absl::InvalidArgumentError(
        "/proc/cpuinfo has no 'processor : N' entries; is it really cpuinfo?");
  }

  CpuInfo info;
  info.arch = ArchFromEntries(entries);
  info.logical_cpus = static_cast<int>(entries.size());
  if (global.count("Hardware")) info.model_name = global["Hardware"];

  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& entry = entries[i];
    int cpu_id = static_cast<int>(i);
    int processor = 0;
    if (entry.count("processor") && absl::SimpleAtoi(entry.at("processor"), &processor)) {
      cpu_id = processor;
    }
    CoreGroup core;
    if (entry.count("CPU implementer")) {
      core.implementer = entry.at("CPU implementer");
      core.part_id = entry.count("CPU part") ? entry.at("CPU part") : "";
      core.part_name = ArmCoreName(core.implementer, core.part_id);
      if (core.part_name.empty()) {
        core.part_name = core.part_id.empty()
                             ? absl::StrCat("implementer ", core.implementer, ", no CPU part")
                             : absl::StrCat("unknown part ", core.implementer, "/", core.part_id);
      }
    } else {
      core.part_name = entry.count("model name") ? entry.at("model name") : "unknown";
    }
    if (info.groups.empty() || info.groups.back().part_name != core.part_name ||
        info.groups.back().part_id != core.part_id) {
      info.groups.push_back(core);
    }
    info.groups.back().cpu_ids.push_back(cpu_id);
  }

  const auto& first = entries.front();
  if (first.count("model name") && info.arch != farm::v1::CPU_ARCH_ARM64) {
    info.model_name = first.at("model name");
  }
  if (first.count("vendor_id")) info.vendor_id = first.at("vendor_id");
  if (first.count("flags")) {
    for (absl::string_view flag : absl::StrSplit(first.at("flags"), ' ')) {
      if (flag == "vmx" || flag == "svm" || flag == "hypervisor") {
        info.virt_flags.emplace_back(flag);
      }
    }
  }
  return info;
}

}  // namespace kvmfarm::probe
