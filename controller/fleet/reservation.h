// -----------------------------------------------------------------------------
// File: reservation.h
// -----------------------------------------------------------------------------
//
// An operator's hold on a device for manual work (issue 21): while it runs no sweep
// task is dispatched to the device. Shared by the fleet, the scheduler and farmctl.
//
// Example:
//
//   if (fleet::Reserved(device, clock->Now())) return "reserved";
#ifndef KVMFARM_CONTROLLER_FLEET_RESERVATION_H_
#define KVMFARM_CONTROLLER_FLEET_RESERVATION_H_

#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::fleet {

// The longest an operator may reserve a device for.
inline constexpr absl::Duration kMaxReservation = absl::Hours(7 * 24);

// Whether `device` is reserved at `now` (a reservation that ran out holds nothing).
bool Reserved(const farm::v1::Device& device, absl::Time now);

}  // namespace kvmfarm::fleet

#endif  // KVMFARM_CONTROLLER_FLEET_RESERVATION_H_
