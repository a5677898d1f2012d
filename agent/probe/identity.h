// -----------------------------------------------------------------------------
// File: identity.h
// -----------------------------------------------------------------------------
//
// Who the device is: /proc/cpuinfo, /proc/version, /sys/devices/soc0/*, DMI on PCs,
// and Android properties, joined with the SoC table into a DeviceIdentity.
#ifndef KVMFARM_AGENT_PROBE_IDENTITY_H_
#define KVMFARM_AGENT_PROBE_IDENTITY_H_

#include <string>

#include "agent/probe/checks.h"
#include "agent/probe/cpuinfo.h"
#include "agent/probe/properties.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::probe {

struct IdentityResult {
  farm::v1::DeviceIdentity identity;
  // The parsed cpuinfo, when it parsed (the x86 virtualization flags live here).
  absl::optional<CpuInfo> cpu;
};

// Reads the identity, adding the identity.* checks. `device_id` (from --device-id)
// wins; otherwise ro.serialno, then the host name.
IdentityResult ReadIdentity(const Sysroot& sysroot, const Properties& props,
                            const std::string& device_id, Checks* checks);

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_IDENTITY_H_
