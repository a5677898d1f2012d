// The kernel log (dmesg), /proc/version and /proc/cmdline (agent/probe/kernel_log.h,
// agent/probe/kernel.h).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "agent/probe/kernel.h"
#include "agent/probe/kernel_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  farm::v1::BootModeEvidence evidence;
  kvmfarm::probe::ParseKernelLog(text, &evidence);
  kvmfarm::probe::KernelReleaseFromVersion(text);
  kvmfarm::probe::KvmArmModeArg(text);
  return 0;
}
