// Text-format protos from outside: the controller's --inventory (farm.v1.Inventory)
// and a fixture's kvm_probe.textproto (farm.v1.KvmNodeProbe), through
// common/text_proto.h. The first byte picks the message.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/text_proto.h"
#include "farm/v1/common.pb.h"
#include "farm/v1/controller.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    farm::v1::Inventory inventory;
    kvmfarm::ParseTextProto(text, &inventory).IgnoreError();
  } else {
    farm::v1::KvmNodeProbe node;
    kvmfarm::ParseTextProto(text, &node).IgnoreError();
  }
  return 0;
}
