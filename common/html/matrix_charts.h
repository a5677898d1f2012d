// -----------------------------------------------------------------------------
// File: html/matrix_charts.h
// -----------------------------------------------------------------------------
//
// The charts of one row of the compatibility matrix (a device, model or SoC), as
// `farmctl report` and the controller's dashboard both draw them:
//  * workloads: each metric's native figure as 100 % and its KVM and TCG figures
//    as % of native, so one scale fits every workload whatever its unit;
//  * boot.* metrics in their own units, ONE CHART PER UNIT: boot times (s),
//    switch latency (ms) and memory overhead (%) never share a scale, and each
//    value is labelled with its own unit.
//
// Example:
//
//   for (const farm::v1::MatrixRow& row : matrix.rows()) html += MatrixRowCharts(row);
#ifndef KVMFARM_COMMON_HTML_MATRIX_CHARTS_H_
#define KVMFARM_COMMON_HTML_MATRIX_CHARTS_H_

#include <string>
#include <vector>

#include "common/html/svg_chart.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::html {

// The bar charts MatrixRowCharts draws, in order: the workload chart (when a
// workload has a native figure), then a boot chart per unit, units in order of
// their first boot.* cell. Groups are metrics (named by MetricLabel), bars the
// modes measured: "native", "KVM", "TCG". A chart with no bars is left out.
std::vector<BarChartSpec> MatrixRowChartSpecs(const farm::v1::MatrixRow& row);

// The charts of MatrixRowChartSpecs as inline SVG, one after another; "" when the
// row has no figures.
std::string MatrixRowCharts(const farm::v1::MatrixRow& row);

}  // namespace kvmfarm::html

#endif  // KVMFARM_COMMON_HTML_MATRIX_CHARTS_H_
