// The whole probe over a generated fixture sysroot: every file it reads comes from
// the input. A fixture sysroot touches nothing of the host: no QEMU discovery, no
// /dev/kvm ioctls, no getprop or dmesg (agent/probe/probe.h).
//
// Input: the files of kSysrootFiles in order, separated by kSeparator (binary
// files such as config.gz hold NULs, so not a NUL alone); an empty field leaves the
// file out (for dev/* a non-empty one creates the node).
// make_probe_seeds.py builds seeds from tests/fixtures/devices.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "agent/probe/probe.h"

namespace {

constexpr absl::string_view kSeparator("\0@@\0", 4);

constexpr const char* kSysrootFiles[] = {
    "getprop.txt",
    "proc/cpuinfo",
    "proc/version",
    "proc/cmdline",
    "proc/config.gz",
    "dmesg.txt",
    "sys/devices/soc0/family",
    "sys/devices/soc0/machine",
    "sys/devices/soc0/soc_id",
    "sys/class/dmi/id/sys_vendor",
    "sys/class/dmi/id/product_name",
    "sys/hypervisor/type",
    "kvm_probe.textproto",
    "cpuid_hypervisor.txt",
    "dev/kvm",
    "dev/gunyah",
    "dev/gzvm",
    "sys/module/kvm/refcnt",
    "apex/com.android.virt/apex_manifest.pb",
};

// One scratch sysroot per process, rewritten for each input.
const std::string& Root() {
  static const std::string* root = [] {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/probe-fuzz.XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    return new std::string(pattern);
  }();
  return *root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<absl::string_view> fields = absl::StrSplit(input, kSeparator);
  fields.resize(sizeof(kSysrootFiles) / sizeof(kSysrootFiles[0]));
  std::error_code error;
  std::filesystem::remove_all(Root(), error);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].empty()) continue;
    const std::filesystem::path path = absl::StrCat(Root(), "/", kSysrootFiles[i]);
    std::filesystem::create_directories(path.parent_path(), error);
    std::ofstream(path, std::ios::binary).write(fields[i].data(), fields[i].size());
  }
  kvmfarm::probe::ProbeOptions options;
  options.sysroot = Root();
  options.device_id = "fuzzed";
  kvmfarm::probe::RunProbe(options).IgnoreError();
  return 0;
}
