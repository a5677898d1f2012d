// -----------------------------------------------------------------------------
// File: matrix.h
// -----------------------------------------------------------------------------
//
// The compatibility matrix and sweep comparison, computed from the store's
// per-task summaries (never from raw rows at query time):
//  * a row per device (or model, or SoC): identity, hypervisor, verdict with its
//    reasons, recommendation, and a cell per metric and parameter set with the
//    native, KVM and TCG aggregates of the latest task that measured each, the
//    percentage of native (same device, metric and parameters only) and the KVM/TCG
//    speed-up; every aggregate says how many samples it rests on and how many were
//    asked for;
//  * CompareSweeps: per device, metric, mode and parameters, the change from sweep a
//    to sweep b labelled regression / improved / unchanged / new / missing.
#ifndef KVMFARM_CONTROLLER_MATRIX_MATRIX_H_
#define KVMFARM_CONTROLLER_MATRIX_MATRIX_H_

#include <map>
#include <string>
#include <vector>

#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::matrix {

std::vector<farm::v1::MatrixRow> BuildMatrix(const std::vector<farm::v1::Device>& devices,
                                             const std::vector<store::StoredSummary>& summaries,
                                             farm::v1::GroupBy group_by);

// Regressions first. `threshold_percent`: a smaller change is UNCHANGED.
std::vector<farm::v1::MetricChange> CompareSummaries(const std::vector<store::StoredSummary>& a,
                                                     const std::vector<store::StoredSummary>& b,
                                                     double threshold_percent);

// Verdicts per device in two sweeps' capability results.
std::vector<farm::v1::VerdictChange> CompareVerdicts(
    const std::map<std::string, farm::v1::Verdict>& a,
    const std::map<std::string, farm::v1::Verdict>& b);

}  // namespace kvmfarm::matrix

#endif  // KVMFARM_CONTROLLER_MATRIX_MATRIX_H_
