#include "common/html/matrix_charts.h"

#include <string>
#include <vector>

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
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

farm::v1::MatrixCell* AddCell(farm::v1::MatrixRow* row, const std::string& metric,
                              const std::string& unit) {
  farm::v1::MatrixCell* cell = row->add_cells();
  cell->set_metric(metric);
  cell->set_unit(unit);
  return cell;
}

// A device's row as the controller makes it, with boot figures in s, ms and %.
farm::v1::MatrixRow Row() {
  farm::v1::MatrixRow row;
  row.set_key("pixel8");
  farm::v1::MatrixCell* sha = AddCell(&row, "crypto.sha256", "MB/s");
  sha->mutable_native()->set_median(1500);
  sha->mutable_kvm()->set_median(1459.5);
  sha->set_kvm_percent_of_native(97.3);
  sha->mutable_tcg()->set_median(85.5);
  sha->set_tcg_percent_of_native(5.7);
  // Measured in a guest only: nothing to be a percentage of.
  AddCell(&row, "io.rand_read", "IOPS")->mutable_kvm()->set_median(9000);
  farm::v1::MatrixCell* boot = AddCell(&row, "boot.time_to_userspace", "s");
  boot->mutable_kvm()->set_median(0.41);
  boot->mutable_tcg()->set_median(1.331);
  AddCell(&row, "boot.memory_overhead", "%")->mutable_tcg()->set_median(563);
  AddCell(&row, "boot.switch_latency", "ms")->mutable_kvm()->set_median(3.2);
  AddCell(&row, "boot.all_of_n", "s")->mutable_tcg()->set_median(2.9);
  return row;
}

// The <svg> elements of `html`.
std::vector<std::string> Charts(const std::string& html) {
  std::vector<std::string> charts;
  for (absl::string_view part : absl::StrSplit(html, "</svg>", absl::SkipWhitespace())) {
    charts.push_back(absl::StrCat(part, "</svg>"));
  }
  return charts;
}

TEST(MatrixRowChartSpecsTest, WorkloadsAsPercentOfNativeAndBootFiguresOneChartPerUnit) {
  const std::vector<BarChartSpec> specs = MatrixRowChartSpecs(Row());
  ASSERT_THAT(specs,
              ElementsAre(Field(&BarChartSpec::unit, "%"), Field(&BarChartSpec::unit, "s"),
                          Field(&BarChartSpec::unit, "%"), Field(&BarChartSpec::unit, "ms")));
  EXPECT_EQ(specs[0].title, "Workloads: KVM and TCG as % of native");
  ASSERT_THAT(specs[0].groups, SizeIs(1));
  EXPECT_EQ(specs[0].groups[0].label, "crypto.sha256");
  ASSERT_THAT(specs[0].groups[0].bars, SizeIs(3));
  EXPECT_EQ(specs[0].groups[0].bars[0].series, "native");
  EXPECT_EQ(specs[0].groups[0].bars[0].value, 100);
  EXPECT_EQ(specs[0].groups[0].bars[1].series, "KVM");
  EXPECT_EQ(specs[0].groups[0].bars[1].value, 97.3);
  EXPECT_EQ(specs[0].groups[0].bars[2].series, "TCG");
  EXPECT_EQ(specs[0].groups[0].bars[2].value, 5.7);

  EXPECT_EQ(specs[1].title, "Boot figures (s)");
  EXPECT_THAT(specs[1].groups, ElementsAre(Field(&BarGroup::label, "boot.time_to_userspace"),
                                           Field(&BarGroup::label, "boot.all_of_n")));
  EXPECT_EQ(specs[2].title, "Boot figures (%)");
  ASSERT_THAT(specs[2].groups, ElementsAre(Field(&BarGroup::label, "boot.memory_overhead")));
  ASSERT_THAT(specs[2].groups[0].bars, SizeIs(1));
  EXPECT_EQ(specs[2].groups[0].bars[0].series, "TCG");
  EXPECT_EQ(specs[2].groups[0].bars[0].value, 563);
  EXPECT_EQ(specs[3].title, "Boot figures (ms)");
}

// The report once drew every boot.* metric on one scale with the last cell's unit,
// so a 563 % memory overhead read "563 s" beside boot times of a second or two.
TEST(MatrixRowChartsTest, BootTimeAndMemoryOverheadAreTwoChartsEachInItsUnit) {
  farm::v1::MatrixRow row;
  farm::v1::MatrixCell* boot = AddCell(&row, "boot.time_to_userspace", "s");
  boot->mutable_kvm()->set_median(0.41);
  boot->mutable_tcg()->set_median(1.331);
  AddCell(&row, "boot.memory_overhead", "%")->mutable_tcg()->set_median(563);
  const std::string html = MatrixRowCharts(row);
  EXPECT_THAT(html, Not(HasSubstr("563 s")));
  const std::vector<std::string> charts = Charts(html);
  ASSERT_THAT(charts, SizeIs(2));
  EXPECT_THAT(charts[0],
              AllOf(HasSubstr("<title>Boot figures (s)</title>"),
                    HasSubstr(">boot.time_to_userspace</text>"), HasSubstr(">0.41 s</text>"),
                    HasSubstr(">1.331 s</text>"), HasSubstr(">1.5 s</text>"),
                    Not(HasSubstr("memory_overhead")), Not(HasSubstr(" %<"))));
  EXPECT_THAT(charts[1], AllOf(HasSubstr("<title>Boot figures (%)</title>"),
                               HasSubstr(">boot.memory_overhead</text>"),
                               HasSubstr(">563 %</text>"), HasSubstr(">600 %</text>"),
                               Not(HasSubstr("time_to_userspace")), Not(HasSubstr(" s<"))));
  for (const std::string& chart : charts) EXPECT_THAT(CheckWellFormed(chart), IsOk());
}

TEST(MatrixRowChartsTest, DrawsEveryChartOfTheRow) {
  const std::string html = MatrixRowCharts(Row());
  EXPECT_THAT(CheckWellFormed(html), IsOk());
  const std::vector<std::string> charts = Charts(html);
  ASSERT_THAT(charts, SizeIs(4));
  EXPECT_THAT(charts[0], AllOf(HasSubstr(">crypto.sha256</text>"), HasSubstr(">97.3 %</text>"),
                               HasSubstr(">5.7 %</text>"), HasSubstr(">100 %</text>"),
                               Not(HasSubstr("io.rand_read"))));
  EXPECT_THAT(charts[3],
              AllOf(HasSubstr(">boot.switch_latency</text>"), HasSubstr(">3.2 ms</text>")));
}

TEST(MatrixRowChartsTest, NamesAGuestOfAnotherArchitecture) {
  farm::v1::MatrixRow row;
  farm::v1::MatrixCell* boot = AddCell(&row, "boot.time_to_userspace", "s");
  (*boot->mutable_parameters())["guest_arch"] = "arm64";
  boot->mutable_tcg()->set_median(4.2);
  EXPECT_THAT(MatrixRowCharts(row), HasSubstr(">boot.time_to_userspace (arm64 guest)</text>"));
}

TEST(MatrixRowChartsTest, NothingForARowWithoutFigures) {
  farm::v1::MatrixRow row;
  EXPECT_EQ(MatrixRowCharts(row), "");
  AddCell(&row, "boot.time_to_userspace", "s");                          // not measured
  AddCell(&row, "crypto.sha256", "MB/s")->set_tcg_percent_of_native(5);  // no native figure
  EXPECT_THAT(MatrixRowChartSpecs(row), IsEmpty());
  EXPECT_EQ(MatrixRowCharts(row), "");
}

}  // namespace
}  // namespace kvmfarm::html
