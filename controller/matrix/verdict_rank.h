// -----------------------------------------------------------------------------
// File: verdict_rank.h
// -----------------------------------------------------------------------------
//
// How close a capability verdict is to "use KVM", for ordering verdicts: the
// matrix breaks a tie between a group's verdicts towards the better one, and a
// sweep comparison calls a verdict that moved away from KVM_READY a regression.
//
// Example:
//
//   VerdictRank(farm::v1::VERDICT_KVM_READY) < VerdictRank(farm::v1::VERDICT_KVM_BOOT_FAILED)
#ifndef KVMFARM_CONTROLLER_MATRIX_VERDICT_RANK_H_
#define KVMFARM_CONTROLLER_MATRIX_VERDICT_RANK_H_

#include "farm/v1/common.pb.h"

namespace kvmfarm::matrix {

// Lower is better: 0 for KVM_READY, then boot untested, boot failed, every other
// known verdict, and UNSPECIFIED last.
inline int VerdictRank(farm::v1::Verdict v) {
  switch (v) {
    case farm::v1::VERDICT_KVM_READY:
      return 0;
    case farm::v1::VERDICT_KVM_BOOT_UNTESTED:
      return 1;
    case farm::v1::VERDICT_KVM_BOOT_FAILED:
      return 2;
    case farm::v1::VERDICT_UNSPECIFIED:
      return 9;
    default:
      return 3;
  }
}

}  // namespace kvmfarm::matrix

#endif  // KVMFARM_CONTROLLER_MATRIX_VERDICT_RANK_H_
