// -----------------------------------------------------------------------------
// File: html/svg_chart.h
// -----------------------------------------------------------------------------
//
// Charts as inline SVG, shared by `farmctl report` and the controller's
// dashboard: pure functions from figures to markup, so a page is one string and
// its charts are tested as text.
//
// Every chart has its title (drawn, and as <title> for screen readers: the <svg>
// has role="img"), an axis with a few round ticks labelled in the chart's unit,
// and a legend of its series in their colours. Sizes are a viewBox: a chart fills
// the width it is given up to its natural width (640), scaling down to a phone's.
// No scripts, nothing fetched, every text escaped. The <svg> has no xmlns: it is
// meant for inline use in HTML, whose parser puts it in the SVG namespace.
//
// The same series has the same colour in every chart (SeriesColour): native
// grey, KVM blue, TCG orange.
//
// Example:
//
//   BarChartSpec boot;
//   boot.title = "Boot to userspace";
//   boot.unit = "s";
//   boot.groups.push_back({"boot.time_to_userspace", {{"KVM", 0.41}, {"TCG", 1.33}}});
//   html += BarChart(boot);
//
//   LineChartSpec trend;
//   trend.title = "crypto.sha256";
//   trend.x_label = "sweep";
//   trend.unit = "MB/s";
//   trend.x_ticks = {"s-1", "s-2", "s-3"};
//   trend.series = {{"native", {1500, 1510, 1490}}, {"TCG", {85.5, std::nullopt, 86}}};
//   html += LineChart(trend);
#ifndef KVMFARM_COMMON_HTML_SVG_CHART_H_
#define KVMFARM_COMMON_HTML_SVG_CHART_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kvmfarm::html {

// The colour of a series, as a CSS colour: "native" #777, "KVM" #2b7bb9 and
// "TCG" #d9822b (names matched ignoring case). Any other series takes colour
// number `fallback_index` of a fixed palette (cycling), none of them those three:
// a chart passes 0 for its first such series, 1 for the next, and so on.
std::string SeriesColour(absl::string_view series, size_t fallback_index = 0);

// One bar: the series it belongs to (its colour and legend entry) and its value.
struct Bar {
  std::string series;
  double value = 0;
};

// Bars drawn together under one label, e.g. a metric under native, KVM and TCG.
struct BarGroup {
  std::string label;
  std::vector<Bar> bars;
};

struct BarChartSpec {
  std::string title;
  // Of every value; "" for plain numbers.
  std::string unit;
  std::vector<BarGroup> groups;
};

// Horizontal grouped bars. Each group's label on the left (cut short with "…"
// when long, the whole label as its tooltip), its bars beneath each other in the
// order given, each as long as its value on one scale and labelled with its value
// and the unit ("97.3 %"); the value axis runs from 0 (or a round number below
// the least value when one is negative) to a round number at or above the largest,
// with ticks labelled in the unit ("0 %", "50 %", "100 %"). The legend has each
// series once, in order of first appearance. Values that are not finite are left
// out, and a group with none is too; with no value at all the chart says "no data".
std::string BarChart(const BarChartSpec& spec);

// A series of a line chart: one value per x tick, absent where not measured.
struct Series {
  std::string name;
  std::vector<std::optional<double>> values;
};

struct LineChartSpec {
  std::string title;
  // What the x ticks are ("sweep", "date"); "" for none.
  std::string x_label;
  // Of every value; "" for plain numbers.
  std::string unit;
  // Categories along the x axis, evenly spaced, in order (sweep ids, dates).
  std::vector<std::string> x_ticks;
  std::vector<Series> series;
};

// One line per series through its values, a point at each value with a tooltip
// ("TCG at s-2: 85.5 MB/s"). A missing value has no point, and the line joins the
// values either side of it; values beyond the x ticks and values that are not
// finite are missing too. The y axis runs from 0 (or from a round number below the
// least value when one is negative) to a round number at or above the largest,
// ticks labelled in the unit. X tick labels are cut short with "…" when long, and
// only every n-th is written when they would not fit. The legend has the series
// that have a value; with none the chart says "no data".
std::string LineChart(const LineChartSpec& spec);

}  // namespace kvmfarm::html

#endif  // KVMFARM_COMMON_HTML_SVG_CHART_H_
