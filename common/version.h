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

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_VERSION_H_
