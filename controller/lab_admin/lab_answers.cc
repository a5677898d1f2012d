#include "controller/lab_admin/lab_answers.h"

#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "controller/comparison/sweep_comparison.h"
#include "controller/matrix/matrix.h"

namespace kvmfarm::lab_admin {
namespace {

using google::protobuf::util::MessageDifferencer;

farm::v1::GetMatrixResponse Matrix(const std::vector<farm::v1::Device>& devices,
                                   const std::vector<store::StoredSummary>& summaries,
                                   farm::v1::GroupBy group_by) {
  farm::v1::GetMatrixResponse response;
  for (farm::v1::MatrixRow& row : matrix::BuildMatrix(devices, summaries, group_by)) {
    *response.add_rows() = std::move(row);
  }
  return response;
}

// Every sweep's id, oldest first.
absl::StatusOr<std::vector<std::string>> AllSweeps(store::Store& store) {
  std::vector<std::string> ids;
  store::SweepListQuery query;
  query.limit = 500;
  while (true) {
    ASSIGN_OR_RETURN(const std::vector<farm::v1::Sweep> page, store.ListSweeps(query));
    for (const farm::v1::Sweep& sweep : page) ids.push_back(sweep.sweep_id());
    if (static_cast<int>(page.size()) < query.limit) break;
    query.after = std::make_pair(
        google::protobuf::util::TimeUtil::TimestampToNanoseconds(page.back().created_at()),
        page.back().sweep_id());
  }
  std::reverse(ids.begin(), ids.end());
  return ids;
}

}  // namespace

absl::StatusOr<LabAnswers> ReadLabAnswers(store::Store& store) {
  LabAnswers answers;
  ASSIGN_OR_RETURN(const std::vector<farm::v1::Device> devices, store.ListDevices());
  ASSIGN_OR_RETURN(const std::vector<store::StoredSummary> summaries, store.LatestSummaries({}));
  answers.matrix_by_device = Matrix(devices, summaries, farm::v1::GROUP_BY_DEVICE);
  answers.matrix_by_model = Matrix(devices, summaries, farm::v1::GROUP_BY_MODEL);
  ASSIGN_OR_RETURN(answers.sweeps, AllSweeps(store));
  for (size_t i = 0; i + 1 < answers.sweeps.size(); ++i) {
    ASSIGN_OR_RETURN(comparison::SweepComparison compared,
                     comparison::CompareStoredSweeps(store, answers.sweeps[i],
                                                     answers.sweeps[i + 1], absl::nullopt));
    farm::v1::CompareSweepsResponse response;
    for (farm::v1::MetricChange& c : compared.changes) *response.add_changes() = std::move(c);
    for (farm::v1::VerdictChange& c : compared.verdict_changes) {
      *response.add_verdict_changes() = std::move(c);
    }
    answers.comparisons.push_back(std::move(response));
  }
  return answers;
}

absl::Status SameAnswers(const LabAnswers& before, const LabAnswers& after) {
  if (!MessageDifferencer::Equals(before.matrix_by_device, after.matrix_by_device)) {
    return absl::FailedPreconditionError("GetMatrix by device answers differently");
  }
  if (!MessageDifferencer::Equals(before.matrix_by_model, after.matrix_by_model)) {
    return absl::FailedPreconditionError("GetMatrix by model answers differently");
  }
  if (before.sweeps != after.sweeps) {
    return absl::FailedPreconditionError(absl::StrCat("the sweeps differ (", before.sweeps.size(),
                                                      " before, ", after.sweeps.size(), " after)"));
  }
  for (size_t i = 0; i < before.comparisons.size(); ++i) {
    if (!MessageDifferencer::Equals(before.comparisons[i], after.comparisons[i])) {
      return absl::FailedPreconditionError(absl::StrCat(
          "CompareSweeps ", before.sweeps[i], " ", before.sweeps[i + 1], " answers differently"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kvmfarm::lab_admin
