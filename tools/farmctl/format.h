// -----------------------------------------------------------------------------
// File: format.h
// -----------------------------------------------------------------------------
//
// How farmctl prints things: aligned tables for people, Markdown that reads like
// the reference's KVM-vs-TCG tables, CSV and JSON for scripts.
#ifndef KVMFARM_TOOLS_FARMCTL_FORMAT_H_
#define KVMFARM_TOOLS_FARMCTL_FORMAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::farmctl {

// Columns padded to their widest cell.
std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows);

// A line per device; a reservation running at `now` shows in HEALTH, and a fleet
// whose agents run different versions gets a line saying so.
std::string DevicesTable(const std::vector<farm::v1::Device>& devices,
                         absl::Time now = absl::Now());
std::string SchedulesTable(const farm::v1::ListSchedulesResponse& schedules);
std::string SweepLine(const farm::v1::Sweep& sweep);

// The matrix as one line per device (or group) and metric: the columns every
// format shares (the HTML report's table too).
struct MatrixTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
MatrixTable MatrixAsTable(const farm::v1::GetMatrixResponse& matrix);

// format: "table", "markdown", "csv" or "json"; INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> FormatMatrix(const farm::v1::GetMatrixResponse& matrix,
                                         const std::string& format);
std::string CompareTable(const farm::v1::CompareSweepsResponse& comparison);

// How a comparison's label was decided: "p=0.0079 B/A 0.49-0.51 n=5/5", or "" for
// a figure only one sweep has. farmctl's table and the dashboard show it.
std::string ChangeEvidence(const farm::v1::MetricChange& change);

// What a regression is of ("crypto.sha256 kvm", "verdict") and its latest change
// ("+20.0% p=0.0079 B/A 1.18-1.22 n=5/5", "kvm_ready -> kvm_not_in_kernel"): farmctl's
// table and the dashboard show them.
std::string RegressionWhat(const farm::v1::Regression& regression);
std::string RegressionChange(const farm::v1::Regression& regression);

// Regression records, one line each (its latest change), and baselines.
std::string RegressionsTable(const farm::v1::ListRegressionsResponse& regressions);
std::string BaselinesTable(const farm::v1::ListBaselinesResponse& baselines);

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_FORMAT_H_
