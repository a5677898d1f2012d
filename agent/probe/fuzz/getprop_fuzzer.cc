// getprop output from a device (agent/probe/properties.h).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "agent/probe/properties.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kvmfarm::probe::Properties> props = kvmfarm::probe::ParseGetprop(text);
  if (props.ok()) props->GetOr("ro.boot.hypervisor.vm.supported");
  return 0;
}
