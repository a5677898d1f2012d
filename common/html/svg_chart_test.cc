#include "common/html/svg_chart.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/html/testing/markup_check.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::html {
namespace {

using ::kvmfarm::html::testing::CheckWellFormed;
using ::kvmfarm::testing::IsOk;
using ::testing::_;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using ::testing::SizeIs;

size_t Count(absl::string_view text, absl::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != absl::string_view::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// The value of attribute `name` in the tag that starts at `tag`.
std::string Attribute(absl::string_view svg, size_t tag, absl::string_view name) {
  const size_t end = svg.find('>', tag);
  const std::string key = absl::StrCat(" ", name, "=\"");
  const size_t at = svg.find(key, tag);
  if (at == absl::string_view::npos || at > end) return "";
  const size_t value = at + key.size();
  return std::string(svg.substr(value, svg.find('"', value) - value));
}

double Number(const std::string& text) {
  double v = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(absl::SimpleAtod(text, &v)) << text;
  return v;
}

// Each bar's tooltip and width.
std::vector<std::pair<std::string, double>> Bars(absl::string_view svg) {
  std::vector<std::pair<std::string, double>> bars;
  for (size_t at = svg.find("<rect class=\"chart-bar\""); at != absl::string_view::npos;
       at = svg.find("<rect class=\"chart-bar\"", at + 1)) {
    const size_t title = svg.find("<title>", at) + 7;
    bars.emplace_back(std::string(svg.substr(title, svg.find("</title>", title) - title)),
                      Number(Attribute(svg, at, "width")));
  }
  return bars;
}

// The legend's entries: colour and name.
std::vector<std::pair<std::string, std::string>> LegendEntries(absl::string_view svg) {
  std::vector<std::pair<std::string, std::string>> entries;
  const size_t start = svg.find("<g class=\"chart-legend\">");
  if (start == absl::string_view::npos) return entries;
  const absl::string_view legend = svg.substr(start, svg.find("</g>", start) - start);
  for (size_t at = legend.find("<rect"); at != absl::string_view::npos;
       at = legend.find("<rect", at + 1)) {
    const size_t text = legend.find('>', legend.find("<text", at)) + 1;
    const size_t end = legend.find_first_of("<", text);
    entries.emplace_back(Attribute(legend, at, "fill"),
                         std::string(legend.substr(text, end - text)));
  }
  return entries;
}

BarChartSpec WorkloadSpec() {
  BarChartSpec spec;
  spec.title = "Workloads: KVM and TCG as % of native";
  spec.unit = "%";
  spec.groups.push_back({"crypto.sha256", {{"native", 100}, {"KVM", 50}, {"TCG", 25}}});
  spec.groups.push_back({"memory.copy", {{"native", 100}, {"TCG", 5.7}}});
  return spec;
}

TEST(SeriesColourTest, NativeKvmAndTcgHaveTheirOwnOthersThePalette) {
  EXPECT_EQ(SeriesColour("native"), "#777");
  EXPECT_EQ(SeriesColour("KVM"), "#2b7bb9");
  EXPECT_EQ(SeriesColour("kvm", 3), "#2b7bb9");
  EXPECT_EQ(SeriesColour("TCG"), "#d9822b");
  const std::string first = SeriesColour("gvisor", 0), second = SeriesColour("hvf", 1);
  EXPECT_NE(first, second);
  for (const std::string& c : {first, second}) {
    EXPECT_THAT(c, Not(AnyOf("#777", "#2b7bb9", "#d9822b")));
    EXPECT_EQ(c.front(), '#');
  }
  EXPECT_EQ(SeriesColour("gvisor", 0), SeriesColour("anything", 6));  // the palette cycles
}

TEST(BarChartTest, IsAnAccessibleScalableSelfContainedSvg) {
  const std::string svg = BarChart(WorkloadSpec());
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(svg, HasSubstr("<svg role=\"img\" viewBox=\"0 0 640 "));
  EXPECT_THAT(svg, HasSubstr("width=\"100%\" style=\"max-width:640px;height:auto\""));
  EXPECT_THAT(svg, HasSubstr("<title>Workloads: KVM and TCG as % of native</title>"));
  EXPECT_THAT(svg, HasSubstr(">Workloads: KVM and TCG as % of native</text>"));
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("href")));
  EXPECT_THAT(svg, Not(HasSubstr("http")));
  EXPECT_THAT(svg, Not(HasSubstr("height=\"100")));  // the height follows the width
}

TEST(BarChartTest, BarsAreProportionalToTheirValues) {
  const auto bars = Bars(BarChart(WorkloadSpec()));
  ASSERT_THAT(
      bars, ElementsAre(Pair("crypto.sha256, native: 100 %", _),
                        Pair("crypto.sha256, KVM: 50 %", _), Pair("crypto.sha256, TCG: 25 %", _),
                        Pair("memory.copy, native: 100 %", _), Pair("memory.copy, TCG: 5.7 %", _)));
  const double full = bars[0].second;
  EXPECT_GT(full, 100);
  EXPECT_THAT(bars[1].second, DoubleNear(full / 2, 0.1));
  EXPECT_THAT(bars[2].second, DoubleNear(full / 4, 0.1));
  EXPECT_THAT(bars[3].second, DoubleNear(full, 0.1));
  EXPECT_THAT(bars[4].second, DoubleNear(full * 0.057, 0.1));
}

TEST(BarChartTest, LabelsEachBarTheAxisTicksAndTheGroupsWithTheUnit) {
  const std::string svg = BarChart(WorkloadSpec());
  EXPECT_THAT(svg, AllOf(HasSubstr(">100 %</text>"), HasSubstr(">50 %</text>"),
                         HasSubstr(">25 %</text>"), HasSubstr(">5.7 %</text>")));
  // 0 to 100 % in steps of 20.
  for (const char* tick :
       {">0 %</text>", ">20 %</text>", ">40 %</text>", ">60 %</text>", ">80 %</text>"}) {
    EXPECT_EQ(Count(svg, tick), 1u) << tick;
  }
  EXPECT_THAT(svg, Not(HasSubstr(">120 %</text>")));
  EXPECT_THAT(svg, HasSubstr(">crypto.sha256</text>"));
  EXPECT_THAT(svg, HasSubstr(">memory.copy</text>"));
}

TEST(BarChartTest, TicksAreRoundNumbersInTheUnit) {
  BarChartSpec spec;
  spec.title = "Boot";
  spec.unit = "s";
  spec.groups.push_back({"boot.time_to_userspace", {{"KVM", 0.41}, {"TCG", 1.331}}});
  const std::string svg = BarChart(spec);
  EXPECT_THAT(svg, AllOf(HasSubstr(">0 s</text>"), HasSubstr(">0.5 s</text>"),
                         HasSubstr(">1 s</text>"), HasSubstr(">1.5 s</text>"),
                         HasSubstr(">1.331 s</text>"), HasSubstr(">0.41 s</text>")));
  EXPECT_THAT(svg, Not(HasSubstr(">2 s</text>")));
}

TEST(BarChartTest, LegendHasEachSeriesOnceInItsColour) {
  BarChartSpec spec = WorkloadSpec();
  spec.groups.push_back({"io.read", {{"native", 100}, {"gVisor", 80}, {"hvf", 90}}});
  EXPECT_THAT(
      LegendEntries(BarChart(spec)),
      ElementsAre(Pair("#777", "native"), Pair("#2b7bb9", "KVM"), Pair("#d9822b", "TCG"),
                  Pair(SeriesColour("gVisor", 0), "gVisor"), Pair(SeriesColour("hvf", 1), "hvf")));
}

TEST(BarChartTest, EscapesEveryText) {
  BarChartSpec spec;
  spec.title = "<script>alert('x')</script> & co";
  spec.unit = "<u>";
  spec.groups.push_back({"a<b>", {{"K&M", 2}}});
  const std::string svg = BarChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("<b>")));
  EXPECT_THAT(svg, Not(HasSubstr("<u>")));
  EXPECT_THAT(svg, HasSubstr("<title>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
  EXPECT_THAT(svg, HasSubstr(">a&lt;b&gt;</text>"));
  EXPECT_THAT(svg, HasSubstr(">K&amp;M</text>"));
  EXPECT_THAT(svg, HasSubstr(">2 &lt;u&gt;</text>"));
}

TEST(BarChartTest, CutsLongLabelsShortKeepingThemWholeAsTooltips) {
  BarChartSpec spec;
  spec.title = "t";
  // Two-byte characters, so that the cut falls at one of them whatever the length.
  std::string label = "workload";
  for (int i = 0; i < 100; ++i) label += "\xC3\xA9";
  spec.groups.push_back({label, {{"KVM", 1}}});
  const std::string svg = BarChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  const std::string cut = "\xE2\x80\xA6<title>" + label + "</title></text>";
  const size_t end = svg.find(cut);
  ASSERT_NE(end, std::string::npos);
  const size_t start = svg.rfind('>', end) + 1;
  const std::string shown = svg.substr(start, end - start);
  EXPECT_GT(shown.size(), 60u);
  EXPECT_LT(shown.size(), label.size());
  EXPECT_EQ(label.substr(0, shown.size()), shown);
  // Cut between characters, not inside one.
  EXPECT_NE(static_cast<unsigned char>(label[shown.size()]) & 0xC0, 0x80);
}

TEST(BarChartTest, NegativeValuesGrowLeftOfZero) {
  BarChartSpec spec;
  spec.title = "change";
  spec.unit = "%";
  spec.groups.push_back({"m", {{"KVM", -30}, {"TCG", 60}}});
  const std::string svg = BarChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(svg, AllOf(HasSubstr(">-40 %</text>"), HasSubstr(">0 %</text>"),
                         HasSubstr(">60 %</text>"), HasSubstr(">-30 %</text>")));
  const auto bars = Bars(svg);
  ASSERT_THAT(bars, SizeIs(2));
  EXPECT_THAT(bars[0].second, DoubleNear(bars[1].second / 2, 0.1));
  const size_t kvm = svg.find("<rect class=\"chart-bar\""),
               tcg = svg.find("<rect class=\"chart-bar\"", kvm + 1);
  // The KVM bar ends where the TCG bar starts: at 0.
  EXPECT_THAT(Number(Attribute(svg, kvm, "x")) + bars[0].second,
              DoubleNear(Number(Attribute(svg, tcg, "x")), 0.1));
}

TEST(BarChartTest, LeavesOutValuesThatAreNotFiniteAndSaysWhenThereIsNoData) {
  BarChartSpec spec;
  spec.title = "t";
  spec.unit = "s";
  spec.groups.push_back({"a", {{"KVM", std::numeric_limits<double>::quiet_NaN()}}});
  spec.groups.push_back({"b", {{"TCG", std::numeric_limits<double>::infinity()}, {"KVM", 2}}});
  const std::string svg = BarChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(Bars(svg), ElementsAre(Pair("b, KVM: 2 s", _)));
  EXPECT_THAT(LegendEntries(svg), ElementsAre(Pair("#2b7bb9", "KVM")));
  EXPECT_THAT(svg, Not(HasSubstr(">a</text>")));
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, Not(HasSubstr("inf")));

  spec.groups.erase(spec.groups.begin() + 1);
  for (const std::string& empty : {BarChart(spec), BarChart(BarChartSpec{"t", "s", {}})}) {
    EXPECT_THAT(CheckWellFormed(empty), IsOk());
    EXPECT_THAT(empty, HasSubstr(">no data</text>"));
    EXPECT_THAT(empty, Not(HasSubstr("chart-bar")));
  }
}

TEST(BarChartTest, AllZeroValuesStillHaveAnAxis) {
  BarChartSpec spec;
  spec.title = "t";
  spec.unit = "ms";
  spec.groups.push_back({"m", {{"KVM", 0}}});
  const std::string svg = BarChart(spec);
  EXPECT_THAT(svg, AllOf(HasSubstr(">0 ms</text>"), HasSubstr(">1 ms</text>")));
  EXPECT_THAT(Bars(svg), ElementsAre(Pair("m, KVM: 0 ms", 0.0)));
}

LineChartSpec SweepSpec() {
  LineChartSpec spec;
  spec.title = "crypto.sha256 on pixel8";
  spec.x_label = "sweep";
  spec.unit = "MB/s";
  spec.x_ticks = {"s-1", "s-2", "s-3"};
  spec.series = {{"native", {1500, 1510, 1490}},
                 {"KVM", {1400, 1450, std::nullopt}},
                 {"TCG", {85.5, std::nullopt, 86}}};
  return spec;
}

// The points of each polyline, as "x,y" pairs.
std::vector<std::vector<std::string>> Polylines(absl::string_view svg) {
  std::vector<std::vector<std::string>> lines;
  for (size_t at = svg.find("<polyline"); at != absl::string_view::npos;
       at = svg.find("<polyline", at + 1)) {
    lines.push_back(absl::StrSplit(Attribute(svg, at, "points"), ' '));
  }
  return lines;
}

TEST(LineChartTest, IsAnAccessibleScalableSelfContainedSvg) {
  const std::string svg = LineChart(SweepSpec());
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(svg, HasSubstr("<svg role=\"img\" viewBox=\"0 0 640 "));
  EXPECT_THAT(svg, HasSubstr("width=\"100%\""));
  EXPECT_THAT(svg, HasSubstr("<title>crypto.sha256 on pixel8</title>"));
  EXPECT_THAT(svg, Not(HasSubstr("<script")));
  EXPECT_THAT(svg, Not(HasSubstr("http")));
}

TEST(LineChartTest, SkipsMissingValues) {
  const std::string svg = LineChart(SweepSpec());
  EXPECT_EQ(Count(svg, "<circle"), 7u);
  EXPECT_THAT(svg, HasSubstr("<title>TCG at s-1: 85.5 MB/s</title>"));
  EXPECT_THAT(svg, HasSubstr("<title>TCG at s-3: 86 MB/s</title>"));
  EXPECT_THAT(svg, Not(HasSubstr("TCG at s-2")));
  EXPECT_THAT(svg, Not(HasSubstr("KVM at s-3")));
  // The line joins the values either side of a missing one.
  const auto lines = Polylines(svg);
  ASSERT_THAT(lines, SizeIs(3));
  EXPECT_THAT(lines[0], SizeIs(3));
  EXPECT_THAT(lines[1], SizeIs(2));
  EXPECT_THAT(lines[2], SizeIs(2));
}

TEST(LineChartTest, YAxisFromZeroInRoundTicksOfTheUnit) {
  const std::string svg = LineChart(SweepSpec());
  for (const char* tick : {">0 MB/s</text>", ">500 MB/s</text>", ">1000 MB/s</text>",
                           ">1500 MB/s</text>", ">2000 MB/s</text>"}) {
    EXPECT_EQ(Count(svg, tick), 1u) << tick;
  }
  EXPECT_THAT(svg, Not(HasSubstr(">2500 MB/s</text>")));
  // Higher values are drawn higher: native's first point above TCG's.
  const auto lines = Polylines(svg);
  ASSERT_THAT(lines, SizeIs(3));
  auto y_of = [](const std::string& point) { return Number(point.substr(point.find(',') + 1)); };
  EXPECT_LT(y_of(lines[0][0]), y_of(lines[2][0]));
}

TEST(LineChartTest, NegativeValuesPutTheAxisBelowZero) {
  LineChartSpec spec;
  spec.title = "drift";
  spec.unit = "ms";
  spec.x_ticks = {"a", "b"};
  spec.series = {{"KVM", {-5, 5}}};
  const std::string svg = LineChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(
      svg, AllOf(HasSubstr(">-6 ms</text>"), HasSubstr(">0 ms</text>"), HasSubstr(">6 ms</text>")));
}

TEST(LineChartTest, LegendHasTheSeriesWithValues) {
  LineChartSpec spec = SweepSpec();
  spec.series.push_back({"never measured", {std::nullopt, std::nullopt, std::nullopt}});
  spec.series.push_back({"other", {1, 2}});
  const std::string svg = LineChart(spec);
  EXPECT_THAT(LegendEntries(svg),
              ElementsAre(Pair("#777", "native"), Pair("#2b7bb9", "KVM"), Pair("#d9822b", "TCG"),
                          Pair(SeriesColour("other", 0), "other")));
  EXPECT_THAT(svg, Not(HasSubstr("never measured")));
  // A series' line and points are in its colour.
  EXPECT_THAT(svg, HasSubstr("<g class=\"chart-series\" fill=\"#d9822b\"><polyline"));
}

TEST(LineChartTest, LabelsTheXAxisCuttingLongLabelsShort) {
  LineChartSpec spec = SweepSpec();
  spec.x_ticks[2] = "sweep-2024-05-01-nightly";
  const std::string svg = LineChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(svg, HasSubstr(">s-1</text>"));
  EXPECT_THAT(svg, HasSubstr(">sweep-2024-\xE2\x80\xA6<title>sweep-2024-05-01-nightly</title>"));
  EXPECT_THAT(svg, HasSubstr(">sweep</text>"));
  // Tooltips name the whole tick.
  EXPECT_THAT(svg, HasSubstr("<title>native at sweep-2024-05-01-nightly: 1490 MB/s</title>"));
}

TEST(LineChartTest, WritesOnlyTheXLabelsThatFit) {
  LineChartSpec spec;
  spec.title = "t";
  spec.series.push_back({"KVM", {}});
  for (int i = 0; i < 60; ++i) {
    spec.x_ticks.push_back(absl::StrCat("2024-05-", i));
    spec.series[0].values.push_back(i);
  }
  const std::string svg = LineChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_EQ(Count(svg, "<circle"), 60u);
  EXPECT_THAT(svg, HasSubstr(">2024-05-0</text>"));
  EXPECT_THAT(svg, Not(HasSubstr(">2024-05-1</text>")));
  size_t labels = 0;
  for (int i = 0; i < 60; ++i) labels += Count(svg, absl::StrCat(">2024-05-", i, "</text>"));
  EXPECT_GT(labels, 3u);
  EXPECT_LT(labels, 15u);
}

TEST(LineChartTest, EscapesEveryTextAndSaysWhenThereIsNoData) {
  LineChartSpec spec;
  spec.title = "a<b";
  spec.x_label = "x&y";
  spec.unit = "\"u\"";
  spec.x_ticks = {"<t>"};
  spec.series = {{"s'1", {1}}};
  const std::string svg = LineChart(spec);
  EXPECT_THAT(CheckWellFormed(svg), IsOk());
  EXPECT_THAT(svg, AllOf(HasSubstr("<title>a&lt;b</title>"), HasSubstr(">x&amp;y</text>"),
                         HasSubstr(">1 &quot;u&quot;</text>"), HasSubstr(">&lt;t&gt;</text>"),
                         HasSubstr(">s&#39;1</text>")));
  EXPECT_THAT(svg, Not(HasSubstr("<polyline")));  // one point, no line
  EXPECT_EQ(Count(svg, "<circle"), 1u);

  spec.series[0].values = {std::nullopt};
  EXPECT_THAT(LineChart(spec), HasSubstr(">no data</text>"));
  spec.x_ticks.clear();
  spec.series[0].values = {1};
  EXPECT_THAT(LineChart(spec), HasSubstr(">no data</text>"));
}

}  // namespace
}  // namespace kvmfarm::html
