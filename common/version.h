// -----------------------------------------------------------------------------
// File: version.h
// -----------------------------------------------------------------------------
//
// kvmfarm's version, one for every binary: the agent reports it, farm-workload
// stamps it on every result's provenance, so a figure says which build measured it.
#ifndef KVMFARM_COMMON_VERSION_H_
#define KVMFARM_COMMON_VERSION_H_

namespace kvmfarm {

inline constexpr char kKvmfarmVersion[] = "0.1.0";

// The revision of the agent API (AgentInfo.api_version): raised when a controller
// needs something older agents don't send. 2: throttling marks, memory overhead
// parts and provenance on every result (issues 20 and 21).
inline constexpr unsigned kAgentApiVersion = 2;
// The oldest agent API this controller accepts; an older agent's registration is
// refused, saying so in the device's history.
inline constexpr unsigned kMinAgentApiVersion = 2;

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_VERSION_H_
