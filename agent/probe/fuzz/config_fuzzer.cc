// A kernel config, plain (/boot/config-*) and gzipped (/proc/config.gz), including
// gzip that inflates far past its cap (agent/probe/kernel.h).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "agent/probe/kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  kvmfarm::probe::ParseKernelConfig(bytes).IgnoreError();
  absl::StatusOr<std::string> text = kvmfarm::probe::Gunzip(bytes, 1 << 20);
  if (text.ok()) kvmfarm::probe::ParseKernelConfig(*text).IgnoreError();
  return 0;
}
