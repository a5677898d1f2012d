// -----------------------------------------------------------------------------
// File: runner.h
// -----------------------------------------------------------------------------
//
// Runs a list of workloads, each `repetitions` times back to back, into one
// farm.v1.BenchmarkResult: every repetition's value per metric with its median,
// min and max, the parameters that make figures comparable, and a failure (with its
// reason) for each workload that produced no figure. Progress is reported before
// every repetition.
#ifndef KVMFARM_WORKLOADS_RUNNER_H_
#define KVMFARM_WORKLOADS_RUNNER_H_

#include <functional>
#include <vector>

#include "farm/v1/common.pb.h"

namespace kvmfarm::workloads {

using ProgressCallback = std::function<void(const farm::v1::Progress&)>;

// The result has mode NATIVE (the workloads' own point of view; the agent relabels
// what ran in a guest) and succeeded = every workload produced its figures.
farm::v1::BenchmarkResult RunWorkloads(const std::vector<farm::v1::WorkloadSpec>& specs,
                                       uint32_t repetitions, const ProgressCallback& on_progress);

// What built and runs the workloads: version, compiler, CPU model, governor, kernel.
farm::v1::Provenance WorkloadProvenance();

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_RUNNER_H_
