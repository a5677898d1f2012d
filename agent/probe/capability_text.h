// -----------------------------------------------------------------------------
// File: report.h
// -----------------------------------------------------------------------------
//
// The human report of a probe, as `farm-agent --probe` and `farmctl probe` print
// it: a line per check (PASS/FAIL/WARN/SKIP, name, evidence), then the verdict,
// its reasons, the recommendation and what would change it.
#ifndef KVMFARM_AGENT_PROBE_REPORT_H_
#define KVMFARM_AGENT_PROBE_REPORT_H_

#include <string>

#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

std::string FormatCapabilityReport(const farm::v1::KvmCapability& capability);

// "KVM_BOOT_UNTESTED" for VERDICT_KVM_BOOT_UNTESTED.
std::string VerdictName(farm::v1::Verdict verdict);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_REPORT_H_
