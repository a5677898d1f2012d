// -----------------------------------------------------------------------------
// File: lab_answers.h
// -----------------------------------------------------------------------------
//
// What a lab's operators read from its database, computed by the code the
// controller serves it with: GetMatrix for the whole fleet (by device and by
// model) and CompareSweeps of every sweep with the one before it. Read from two
// databases, they prove a move (or a restore) kept the lab: the same answers, or
// the first difference named.
//
// Example:
//
//   ASSIGN_OR_RETURN(LabAnswers before, ReadLabAnswers(*sqlite_store));
//   ASSIGN_OR_RETURN(LabAnswers after, ReadLabAnswers(*postgres_store));
//   RETURN_IF_ERROR(SameAnswers(before, after));
#ifndef KVMFARM_CONTROLLER_LAB_ADMIN_LAB_ANSWERS_H_
#define KVMFARM_CONTROLLER_LAB_ADMIN_LAB_ANSWERS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/store/store.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::lab_admin {

struct LabAnswers {
  farm::v1::GetMatrixResponse matrix_by_device;
  farm::v1::GetMatrixResponse matrix_by_model;
  // Sweeps oldest first; comparisons[i] compares sweeps[i] with sweeps[i + 1].
  std::vector<std::string> sweeps;
  std::vector<farm::v1::CompareSweepsResponse> comparisons;
};

absl::StatusOr<LabAnswers> ReadLabAnswers(store::Store& store);

// OK when both answer alike; FAILED_PRECONDITION naming the first answer that
// differs.
absl::Status SameAnswers(const LabAnswers& before, const LabAnswers& after);

}  // namespace kvmfarm::lab_admin

#endif  // KVMFARM_CONTROLLER_LAB_ADMIN_LAB_ANSWERS_H_
