#include "agent/probe/identity.h"

#include <unistd.h>

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/probe/kernel.h"
#include "agent/probe/soc_table.h"
#include "common/device_id.h"

namespace kvmfarm::probe {
namespace {

// ro.soc.manufacturer spellings -> our lower-case vendor names.
std::string NormalizeVendor(absl::string_view vendor) {
  const std::string lower = absl::AsciiStrToLower(vendor);
  if (lower == "qti" || absl::StrContains(lower, "qualcomm")) return "qualcomm";
  if (absl::StrContains(lower, "mediatek") || lower == "mtk") return "mediatek";
  if (lower == "genuineintel" || lower == "intel") return "intel";
  if (lower == "authenticamd" || lower == "amd") return "amd";
  return lower;
}

std::string ArchName(farm::v1::CpuArch arch) {
  switch (arch) {
    case farm::v1::CPU_ARCH_ARM64:
      return "aarch64";
    case farm::v1::CPU_ARCH_X86_64:
      return "x86_64";
    case farm::v1::CPU_ARCH_ARM:
      return "arm";
    case farm::v1::CPU_ARCH_X86:
      return "i686";
    case farm::v1::CPU_ARCH_RISCV64:
      return "riscv64";
    default:
      return "unknown";
  }
}

// The one-line file, or "" (an unreadable one noted in `checks`).
std::string ReadOr(const Sysroot& sysroot, absl::string_view path, Checks* checks) {
  absl::StatusOr<std::string> value = sysroot.ReadLine(path);
  NoteUnreadable(value.status(), path, checks);
  return value.ok() ? *value : "";
}

// CPU architecture, cores and their designs (biggest first), from /proc/cpuinfo and
// each group's cpufreq maximum.
void ReadCpu(const Sysroot& sysroot, IdentityResult* result, Checks* checks) {
  farm::v1::DeviceIdentity& id = result->identity;
  absl::StatusOr<std::string> cpuinfo_text = sysroot.ReadFile("/proc/cpuinfo");
  absl::StatusOr<CpuInfo> cpu = cpuinfo_text.ok() ? ParseCpuinfo(*cpuinfo_text)
                                                  : absl::StatusOr<CpuInfo>(cpuinfo_text.status());
  if (!cpu.ok()) {
    AddCheck(checks, "identity.cpu", farm::v1::OUTCOME_FAIL, std::string(cpu.status().message()),
             "/proc/cpuinfo");
    return;
  }
  result->cpu = *cpu;
  id.set_cpu_arch(cpu->arch);
  id.set_cpu_cores(static_cast<uint32_t>(cpu->logical_cpus));
  id.set_cpu_model_name(cpu->model_name);
  std::vector<std::string> summary;
  // Biggest first reads naturally ("1x Cortex-X4, 5x Cortex-A720, 2x Cortex-A520").
  for (auto it = cpu->groups.rbegin(); it != cpu->groups.rend(); ++it) {
    farm::v1::CpuCoreGroup* group = id.add_core_groups();
    group->set_part_name(it->part_name);
    group->set_count(static_cast<uint32_t>(it->cpu_ids.size()));
    group->set_implementer(it->implementer);
    group->set_part_id(it->part_id);
    for (int cpu_id : it->cpu_ids) group->add_cpu_ids(static_cast<uint32_t>(cpu_id));
    absl::StatusOr<std::string> max_freq = sysroot.ReadLine(absl::StrCat(
        "/sys/devices/system/cpu/cpu", it->cpu_ids.front(), "/cpufreq/cpuinfo_max_freq"));
    uint32_t khz = 0;
    if (max_freq.ok() && absl::SimpleAtoi(*max_freq, &khz)) {
      group->set_max_frequency_khz(khz);
    }
    summary.push_back(absl::StrCat(it->cpu_ids.size(), "x ", it->part_name));
  }
  AddCheck(checks, "identity.cpu", farm::v1::OUTCOME_PASS,
           absl::StrCat(ArchName(cpu->arch), ", ", cpu->logical_cpus,
                        " CPUs: ", absl::StrJoin(summary, ", ")),
           "/proc/cpuinfo");
}

void ReadKernel(const Sysroot& sysroot, farm::v1::DeviceIdentity* id, Checks* checks) {
  absl::StatusOr<std::string> version = sysroot.ReadLine("/proc/version");
  NoteUnreadable(version.status(), "/proc/version", checks);
  if (version.ok()) {
    id->set_kernel_version(*version);
    id->set_kernel_release(KernelReleaseFromVersion(*version));
  }
  if (id->kernel_release().empty()) {
    id->set_kernel_release(ReadOr(sysroot, "/proc/sys/kernel/osrelease", checks));
  }
}

// The SoC from /sys/devices/soc0 and the properties, named through kvmfarm's table;
// its vendor from the properties, the table, the family or the CPU, in that order.
void ReadSoc(const Sysroot& sysroot, const Properties& props, IdentityResult* result,
             Checks* checks) {
  farm::v1::DeviceIdentity& id = result->identity;
  id.set_soc_family(ReadOr(sysroot, "/sys/devices/soc0/family", checks));
  id.set_soc_machine(ReadOr(sysroot, "/sys/devices/soc0/machine", checks));
  id.set_soc_id(ReadOr(sysroot, "/sys/devices/soc0/soc_id", checks));
  id.set_board_platform(props.GetOr("ro.board.platform"));
  const std::string soc_model_prop = props.GetOr("ro.soc.model");
  const SocInfo soc = LookUpSoc(soc_model_prop, id.board_platform(), id.soc_machine(), id.soc_id());
  id.set_soc_model(!soc.part.empty()         ? soc.part
                   : !soc_model_prop.empty() ? soc_model_prop
                                             : id.soc_machine());
  id.set_soc_marketing_name(soc.marketing_name);
  // An x86 machine has no SoC: its CPU model ("Intel(R) Xeon(R) Gold 6338 CPU @
  // 2.00GHz") stands in, so servers group by SoC and carry a soc label too.
  const bool x86 = result->cpu && (result->cpu->arch == farm::v1::CPU_ARCH_X86_64 ||
                                   result->cpu->arch == farm::v1::CPU_ARCH_X86);
  if (id.soc_model().empty() && x86) id.set_soc_model(result->cpu->model_name);
  std::string vendor = props.GetOr("ro.soc.manufacturer");
  if (vendor.empty()) vendor = soc.vendor;
  if (vendor.empty() && absl::StrContains(id.soc_family(), "Snapdragon")) {
    vendor = "qualcomm";
  }
  if (vendor.empty() && result->cpu) vendor = result->cpu->vendor_id;
  id.set_soc_vendor(NormalizeVendor(vendor));
}

// Host name, and the device id: the one asked for, else the serial number, else the
// host name.
void ReadNames(const Sysroot& sysroot, const Properties& props, const std::string& device_id,
               farm::v1::DeviceIdentity* id, Checks* checks) {
  std::string hostname = ReadOr(sysroot, "/proc/sys/kernel/hostname", checks);
  if (hostname.empty() && sysroot.is_host()) {
    char buffer[256] = {};
    if (::gethostname(buffer, sizeof(buffer) - 1) == 0) hostname = buffer;
  }
  id->set_hostname(hostname);
  // Given with --device-id (checked at start), or made a valid id from what the
  // device calls itself: the controller refuses anything outside the rule.
  std::string derived = DeviceIdFrom(props.GetOr("ro.serialno"));
  if (derived.empty()) derived = DeviceIdFrom(hostname);
  if (!device_id.empty()) {
    id->set_device_id(device_id);
  } else {
    id->set_device_id(derived.empty() ? "unknown-device" : derived);
  }
}

// PASS for a SoC in kvmfarm's table, WARN for an arm64 one that isn't, SKIP for a
// machine that isn't a phone.
void AddSocCheck(const Properties& props, const farm::v1::DeviceIdentity& id, Checks* checks) {
  std::string soc_detail = id.soc_marketing_name().empty()
                               ? absl::StrCat("SoC not in kvmfarm's table (model '", id.soc_model(),
                                              "', platform '", id.board_platform(), "')")
                               : absl::StrCat(id.soc_marketing_name(), " (", id.soc_model(), ")");
  AddCheck(checks, "identity.soc",
           id.soc_marketing_name().empty() && id.cpu_arch() == farm::v1::CPU_ARCH_ARM64
               ? farm::v1::OUTCOME_WARN
           : id.soc_marketing_name().empty() ? farm::v1::OUTCOME_SKIP
                                             : farm::v1::OUTCOME_PASS,
           id.soc_marketing_name().empty() && id.cpu_arch() != farm::v1::CPU_ARCH_ARM64
               ? absl::StrCat("not a phone SoC: ",
                              id.cpu_model_name().empty() ? id.soc_vendor() : id.cpu_model_name())
               : soc_detail,
           props.empty() ? "/sys/devices/soc0" : "ro.soc.model, ro.board.platform");
}

}  // namespace

IdentityResult ReadIdentity(const Sysroot& sysroot, const Properties& props,
                            const std::string& device_id, Checks* checks) {
  IdentityResult result;
  farm::v1::DeviceIdentity& id = result.identity;
  id.set_is_fixture(!sysroot.is_host());
  ReadCpu(sysroot, &result, checks);
  id.set_cpu_arch_name(ArchName(id.cpu_arch()));
  id.set_abi(props.GetOr("ro.product.cpu.abi", id.cpu_arch_name()));
  ReadKernel(sysroot, &id, checks);
  ReadSoc(sysroot, props, &result, checks);
  id.set_manufacturer(props.GetOr("ro.product.manufacturer",
                                  ReadOr(sysroot, "/sys/class/dmi/id/sys_vendor", checks)));
  id.set_model(
      props.GetOr("ro.product.model", ReadOr(sysroot, "/sys/class/dmi/id/product_name", checks)));
  id.set_android_release(props.GetOr("ro.build.version.release"));
  id.set_build_fingerprint(props.GetOr("ro.build.fingerprint"));
  ReadNames(sysroot, props, device_id, &id, checks);
  AddSocCheck(props, id, checks);
  return result;
}

}  // namespace kvmfarm::probe
