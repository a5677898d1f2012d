// A guest image's image.conf (agent/vm/image.h).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "agent/vm/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvmfarm::vm::GuestImage image;
  kvmfarm::vm::ApplyImageConf(absl::string_view(reinterpret_cast<const char*>(data), size), &image);
  return 0;
}
