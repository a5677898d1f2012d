// -----------------------------------------------------------------------------
// File: verdict.h
// -----------------------------------------------------------------------------
//
// The capability verdict, decided from the probe's evidence in the order of the
// table in shared/DESIGN.md (the first that applies wins), with its reasons, the
// reference's recommendation, and what would change it. CPU flags are evidence,
// never a gate; QEMU missing never changes rows 1-4, it makes row 5 say why.
#ifndef KVMFARM_AGENT_PROBE_VERDICT_H_
#define KVMFARM_AGENT_PROBE_VERDICT_H_

#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

// Reads capability's kvm_node, kernel, boot_mode, hypervisor_kind,
// vendor_hypervisor_evidence, qemu and kvm_boot_check; sets verdict,
// verdict_reasons, recommendation and to_change_verdict.
void DecideVerdict(farm::v1::KvmCapability* capability);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_VERDICT_H_
