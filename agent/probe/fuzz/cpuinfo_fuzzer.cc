// /proc/cpuinfo of any device (agent/probe/cpuinfo.h, common/cpuinfo_fields.h).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "agent/probe/cpuinfo.h"
#include "common/cpuinfo_fields.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  kvmfarm::probe::ParseCpuinfo(text).IgnoreError();
  kvmfarm::FirstProcessorField(kvmfarm::SplitCpuinfo(text), "model name");
  return 0;
}
