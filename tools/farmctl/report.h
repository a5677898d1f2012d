// -----------------------------------------------------------------------------
// File: report.h
// -----------------------------------------------------------------------------
//
// `farmctl report`: the compatibility matrix as one self-contained HTML file
// (inline CSS and SVG, no scripts, nothing fetched), so it can be mailed or
// opened on a lab machine without network.
#ifndef KVMFARM_TOOLS_FARMCTL_REPORT_H_
#define KVMFARM_TOOLS_FARMCTL_REPORT_H_

#include <string>
#include <vector>

#include "farm/v1/controller.pb.h"

namespace kvmfarm::farmctl {

// Per row: verdict, reasons and recommendation; its charts (MatrixRowCharts: each
// workload under native, KVM and TCG as % of native, boot figures in a chart per
// unit); then the full matrix table, and the `sweeps` given (newest first) with who
// started and who cancelled each.
std::string HtmlReport(const farm::v1::GetMatrixResponse& matrix,
                       const std::vector<farm::v1::Sweep>& sweeps = {});

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_REPORT_H_
