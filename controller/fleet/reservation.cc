#include "controller/fleet/reservation.h"

#include "common/proto_time.h"

namespace kvmfarm::fleet {

bool Reserved(const farm::v1::Device& device, absl::Time now) {
  return device.has_reservation() && FromProtoTimestamp(device.reservation().until()) > now;
}

}  // namespace kvmfarm::fleet
