// -----------------------------------------------------------------------------
// File: states.h
// -----------------------------------------------------------------------------
//
// Which task and sweep states are final: the one definition the scheduler, the
// controller's WatchSweep and farmctl's progress all use.
#ifndef KVMFARM_PROTO_STATES_H_
#define KVMFARM_PROTO_STATES_H_

#include "farm/v1/controller.pb.h"

namespace kvmfarm {

inline bool TaskFinished(farm::v1::TaskState s) {
  return s == farm::v1::TASK_STATE_SUCCEEDED || s == farm::v1::TASK_STATE_FAILED ||
         s == farm::v1::TASK_STATE_CANCELLED;
}

inline bool SweepFinished(farm::v1::SweepState s) {
  return s == farm::v1::SWEEP_STATE_SUCCEEDED || s == farm::v1::SWEEP_STATE_FAILED ||
         s == farm::v1::SWEEP_STATE_CANCELLED;
}

}  // namespace kvmfarm

#endif  // KVMFARM_PROTO_STATES_H_
