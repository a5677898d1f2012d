// -----------------------------------------------------------------------------
// File: image_name.h
// -----------------------------------------------------------------------------
//
// The rule for naming a guest image, one definition for both sides: an image is
// named, never located — one name of letters, digits, '.', '_' and '-' (not "." or
// ".."), looked up inside the agent's image directory. The agent refuses any other
// name (agent/vm/image.cc); the controller refuses it at StartSweep with the same
// words, before anything is dispatched (controller/scheduler/sweep_plan.cc).
//
// Example:
//
//   RETURN_IF_ERROR(CheckImageName(request.guest().image(), "guest.image"));
//   // CheckImageName("../../etc", "spec.plan.guest.image") is INVALID_ARGUMENT:
//   // "spec.plan.guest.image '../../etc' is not an image name: ..."
#ifndef KVMFARM_COMMON_IMAGE_NAME_H_
#define KVMFARM_COMMON_IMAGE_NAME_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kvmfarm {

// OK for a valid name; INVALID_ARGUMENT naming `field` otherwise (an empty name
// included: whether one is required is the caller's rule).
absl::Status CheckImageName(absl::string_view name, absl::string_view field);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_IMAGE_NAME_H_
