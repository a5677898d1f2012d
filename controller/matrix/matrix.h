// -----------------------------------------------------------------------------
// File: matrix.h
// -----------------------------------------------------------------------------
//
// The compatibility matrix, computed from the store's per-task summaries (never
// from raw rows at query time): a row per device (or model, or SoC): identity,
// hypervisor, verdict with its reasons, recommendation, and a cell per metric and
// parameter set with the native, KVM and TCG aggregates of the latest task that
// measured each, the percentage of native (same device, metric and parameters
// only) and the KVM/TCG speed-up; every aggregate says how many samples it rests on
// and how many were asked for. (Two sweeps compared: controller/comparison/.)
//
// Example:
//
//   ASSIGN_OR_RETURN(store::SummarySet latest, summaries.Latest(ids));
//   for (farm::v1::MatrixRow& row :
//        BuildMatrix(devices, latest.pointers(), farm::v1::GROUP_BY_MODEL)) ...
#ifndef KVMFARM_CONTROLLER_MATRIX_MATRIX_H_
#define KVMFARM_CONTROLLER_MATRIX_MATRIX_H_

#include <string>
#include <vector>

#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::matrix {

// A figure whose repetitions vary by more than this (their coefficient of
// variation, in percent) is flagged noisy (Aggregate.noisy).
inline constexpr double kNoisyCoefficientOfVariationPercent = 5.0;

// The key of `device`'s row when the matrix groups by `group_by`: its id, model
// (the id when it reports none) or SoC (marketing name, else SoC model, else CPU).
std::string GroupKey(const farm::v1::Device& device, farm::v1::GroupBy group_by);

// `summaries` by pointer: the summary cache's own, never copied (copying 100,000
// summaries cost more than building the matrix from them).
std::vector<farm::v1::MatrixRow> BuildMatrix(
    const std::vector<farm::v1::Device>& devices,
    const std::vector<const store::StoredSummary*>& summaries, farm::v1::GroupBy group_by);

// The same over summaries held by value (read straight from a store).
std::vector<farm::v1::MatrixRow> BuildMatrix(const std::vector<farm::v1::Device>& devices,
                                             const std::vector<store::StoredSummary>& summaries,
                                             farm::v1::GroupBy group_by);

}  // namespace kvmfarm::matrix

#endif  // KVMFARM_CONTROLLER_MATRIX_MATRIX_H_
