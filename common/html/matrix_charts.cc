#include "common/html/matrix_charts.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/measurement.h"

namespace kvmfarm::html {
namespace {

constexpr char kBootPrefix[] = "boot.";

}  // namespace

std::vector<BarChartSpec> MatrixRowChartSpecs(const farm::v1::MatrixRow& row) {
  BarChartSpec workloads;
  workloads.title = "Workloads: KVM and TCG as % of native";
  workloads.unit = "%";
  std::vector<BarChartSpec> boot;  // one per unit
  for (const farm::v1::MatrixCell& cell : row.cells()) {
    BarGroup group;
    group.label = MetricLabel(cell.metric(), cell.parameters());
    if (absl::StartsWith(cell.metric(), kBootPrefix)) {
      if (cell.native().has_median()) group.bars.push_back({"native", cell.native().median()});
      if (cell.kvm().has_median()) group.bars.push_back({"KVM", cell.kvm().median()});
      if (cell.tcg().has_median()) group.bars.push_back({"TCG", cell.tcg().median()});
      if (group.bars.empty()) continue;
      auto chart = std::find_if(boot.begin(), boot.end(),
                                [&](const BarChartSpec& c) { return c.unit == cell.unit(); });
      if (chart == boot.end()) {
        BarChartSpec spec;
        spec.title =
            cell.unit().empty() ? "Boot figures" : absl::StrCat("Boot figures (", cell.unit(), ")");
        spec.unit = cell.unit();
        chart = boot.insert(boot.end(), std::move(spec));
      }
      chart->groups.push_back(std::move(group));
      continue;
    }
    // Without a native figure there is nothing to be a percentage of.
    if (!cell.native().has_median()) continue;
    group.bars.push_back({"native", 100});
    if (cell.has_kvm_percent_of_native())
      group.bars.push_back({"KVM", cell.kvm_percent_of_native()});
    if (cell.has_tcg_percent_of_native())
      group.bars.push_back({"TCG", cell.tcg_percent_of_native()});
    workloads.groups.push_back(std::move(group));
  }
  std::vector<BarChartSpec> charts;
  if (!workloads.groups.empty()) charts.push_back(std::move(workloads));
  for (BarChartSpec& spec : boot) charts.push_back(std::move(spec));
  return charts;
}

std::string MatrixRowCharts(const farm::v1::MatrixRow& row) {
  std::string html;
  for (const BarChartSpec& spec : MatrixRowChartSpecs(row)) html += BarChart(spec);
  return html;
}

}  // namespace kvmfarm::html
