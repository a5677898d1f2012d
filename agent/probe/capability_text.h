// -----------------------------------------------------------------------------
// File: capability_text.h
// -----------------------------------------------------------------------------
//
// The probe's answer as text for people, as `farm-agent --probe` and `farmctl probe` print
// it: a line per check (PASS/FAIL/WARN/SKIP, name, evidence), then the verdict,
// its reasons, the recommendation and what would change it.
#ifndef KVMFARM_AGENT_PROBE_CAPABILITY_TEXT_H_
#define KVMFARM_AGENT_PROBE_CAPABILITY_TEXT_H_

#include <string>

#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

std::string FormatCapabilityText(const farm::v1::KvmCapability& capability);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_CAPABILITY_TEXT_H_
