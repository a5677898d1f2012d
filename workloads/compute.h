// integer and float: fixed-work timings, like the reference's "2.8 s vs 34 s" rows.
//
// integer (metric integer.time, s): `iterations` passes of a sieve of Eratosthenes
// up to 10^7 plus a dependent integer hash chain of 2^22 steps. Validation: each
// pass must count 664,579 primes and reach the hash chain's known end value.
//
// Defaults (catalog.h) are sized so a modern core takes about 2 s for each.
//
// float (metric float.time, s): the n-body simulation of the Computer Language
// Benchmarks Game (five Jovian planets, double precision) for `iterations` steps.
// Validation: the initial energy is -0.169075164, after 1,000 steps -0.169087605
// and after 50,000,000 steps -0.169059907 (the Benchmarks Game's published
// outputs); other step counts must conserve energy to 1e-4.
#ifndef KVMFARM_WORKLOADS_COMPUTE_H_
#define KVMFARM_WORKLOADS_COMPUTE_H_

#include <cstdint>
#include <memory>

#include "workloads/workload.h"

namespace kvmfarm::workloads {

std::unique_ptr<Workload> MakeIntegerWorkload(uint64_t passes);
std::unique_ptr<Workload> MakeFloatWorkload(uint64_t steps);

// The kernels themselves, exposed for tests and microbenchmarks.
uint64_t CountPrimesBelow(uint32_t limit, std::vector<uint8_t>* scratch);
uint64_t HashChain(uint64_t seed, uint64_t steps);
// Advances the n-body system `steps` steps; returns the energy before and after.
void NBody(uint64_t steps, double* energy_before, double* energy_after);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_COMPUTE_H_
