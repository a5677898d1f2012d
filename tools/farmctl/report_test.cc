#include "tools/farmctl/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/html/testing/markup_check.h"
#include "common/testing/status_matchers.h"

namespace kvmfarm::farmctl {
namespace {

using ::kvmfarm::html::testing::CheckWellFormed;
using ::kvmfarm::testing::IsOk;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

farm::v1::GetMatrixResponse TwoDeviceMatrix() {
  farm::v1::GetMatrixResponse matrix;
  farm::v1::MatrixRow* host = matrix.add_rows();
  host->set_key("lab-host-1");
  host->set_verdict(farm::v1::VERDICT_KVM_BOOT_FAILED);
  host->add_verdict_reasons("guest hung under -accel kvm <nested>");
  farm::v1::MatrixCell* sha = host->add_cells();
  sha->set_metric("crypto.sha256");
  sha->set_unit("MB/s");
  sha->mutable_native()->set_median(1500);
  sha->mutable_tcg()->set_median(85.5);
  sha->set_tcg_percent_of_native(5.7);
  farm::v1::MatrixCell* boot = host->add_cells();
  boot->set_metric("boot.time_to_userspace");
  boot->set_unit("s");
  boot->mutable_tcg()->set_median(1.331);
  farm::v1::MatrixRow* fixture = matrix.add_rows();
  fixture->set_key("pixel8-kvm");
  fixture->set_is_fixture(true);
  fixture->set_verdict(farm::v1::VERDICT_KVM_READY);
  return matrix;
}

TEST(HtmlReportTest, HasEveryRowItsReasonsAndTheMatrixTable) {
  const std::string html = HtmlReport(TwoDeviceMatrix());
  EXPECT_THAT(html, HasSubstr("<h2>lab-host-1</h2>"));
  EXPECT_THAT(html, HasSubstr(">KVM_BOOT_FAILED<"));
  EXPECT_THAT(html, HasSubstr("<li>guest hung under -accel kvm &lt;nested&gt;</li>"));
  EXPECT_THAT(html, HasSubstr("pixel8-kvm <span class=\"verdict fixture\">fixture</span>"));
  EXPECT_THAT(html, HasSubstr("<table id=\"matrix\">"));
  EXPECT_THAT(html, HasSubstr("<td>lab-host-1</td><td>kvm_boot_failed</td><td>crypto.sha256</td>"));
  EXPECT_THAT(html, HasSubstr("<td>pixel8-kvm [fixture]</td>"));
}

TEST(HtmlReportTest, DrawsWorkloadsAsPercentOfNativeAndBootTimes) {
  const std::string html = HtmlReport(TwoDeviceMatrix());
  EXPECT_THAT(html, HasSubstr("<title>Workloads: KVM and TCG as % of native</title>"));
  EXPECT_THAT(html, HasSubstr(">crypto.sha256</text>"));
  EXPECT_THAT(html, HasSubstr("<title>crypto.sha256, TCG: 5.7 %</title>"));
  EXPECT_THAT(html, HasSubstr(">5.7 %</text>"));
  EXPECT_THAT(html, HasSubstr(">100 %</text>"));  // native, and the axis' last tick
  EXPECT_THAT(html, HasSubstr("<title>Boot figures (s)</title>"));
  EXPECT_THAT(html, HasSubstr("<title>boot.time_to_userspace, TCG: 1.331 s</title>"));
  EXPECT_THAT(html, HasSubstr(">1.331 s</text>"));
  EXPECT_THAT(html, HasSubstr(">1.5 s</text>"));  // the boot chart's axis
  // No KVM figures were measured, so no KVM bars (nor a KVM legend entry) are drawn.
  EXPECT_THAT(html, Not(HasSubstr(", KVM: ")));
  EXPECT_THAT(html, Not(HasSubstr(">KVM</text>")));
  // The fixture row has no figures, so no charts.
  EXPECT_EQ(Count(html, "<svg "), 2u);
}

// The report once drew every boot.* metric on one scale with the last cell's
// unit: a memory overhead of 563 % read "563 s" beside boot times of a second.
TEST(HtmlReportTest, BootTimeAndMemoryOverheadAreChartedApartEachInItsUnit) {
  farm::v1::GetMatrixResponse matrix;
  farm::v1::MatrixRow* row = matrix.add_rows();
  row->set_key("lab-host-1");
  farm::v1::MatrixCell* boot = row->add_cells();
  boot->set_metric("boot.time_to_userspace");
  boot->set_unit("s");
  boot->mutable_kvm()->set_median(0.41);
  boot->mutable_tcg()->set_median(1.331);
  farm::v1::MatrixCell* overhead = row->add_cells();
  overhead->set_metric("boot.memory_overhead");
  overhead->set_unit("%");
  overhead->mutable_tcg()->set_median(563);
  const std::string html = HtmlReport(matrix);
  EXPECT_EQ(Count(html, "<svg "), 2u);
  EXPECT_THAT(html, Not(HasSubstr("563 s")));
  const size_t seconds = html.find("<title>Boot figures (s)</title>");
  const size_t percent = html.find("<title>Boot figures (%)</title>");
  ASSERT_NE(seconds, std::string::npos);
  ASSERT_NE(percent, std::string::npos);
  const std::string seconds_chart = html.substr(seconds, html.find("</svg>", seconds) - seconds);
  const std::string percent_chart = html.substr(percent, html.find("</svg>", percent) - percent);
  EXPECT_THAT(seconds_chart, AllOf(HasSubstr(">boot.time_to_userspace</text>"),
                                   HasSubstr(">1.331 s</text>"), HasSubstr(">0.41 s</text>"),
                                   Not(HasSubstr("memory_overhead")), Not(HasSubstr("%"))));
  EXPECT_THAT(percent_chart, AllOf(HasSubstr(">boot.memory_overhead</text>"),
                                   HasSubstr(">563 %</text>"), HasSubstr(">600 %</text>"),
                                   Not(HasSubstr("time_to_userspace")), Not(HasSubstr(" s<"))));
}

TEST(HtmlReportTest, IsWellFormed) {
  farm::v1::GetMatrixResponse matrix = TwoDeviceMatrix();
  matrix.mutable_rows(0)->set_recommendation("use <TCG> & wait");
  EXPECT_THAT(CheckWellFormed(HtmlReport(matrix)), IsOk());
}

TEST(HtmlReportTest, NamesWhoStartedAndCancelledEachSweep) {
  farm::v1::Sweep done;
  done.set_sweep_id("s-1");
  done.set_state(farm::v1::SWEEP_STATE_SUCCEEDED);
  done.set_started_by("alice (token)");
  farm::v1::Sweep cancelled;
  cancelled.set_sweep_id("s-2");
  cancelled.set_state(farm::v1::SWEEP_STATE_CANCELLED);
  cancelled.set_started_by("bob (certificate)");
  cancelled.set_cancelled_by("<eve> (token)");
  cancelled.set_reason("wrong image");
  const std::string html = HtmlReport(TwoDeviceMatrix(), {done, cancelled});
  EXPECT_THAT(html, HasSubstr("<table id=\"sweeps\">"));
  EXPECT_THAT(html, HasSubstr("<td>s-1</td><td>succeeded</td><td></td><td>alice (token)</td>"));
  EXPECT_THAT(html, HasSubstr("<td>bob (certificate)</td><td>&lt;eve&gt; (token)</td>"
                              "<td>wrong image</td>"));
  // No sweeps, no section.
  EXPECT_THAT(HtmlReport(TwoDeviceMatrix()), Not(HasSubstr("id=\"sweeps\"")));
}

TEST(HtmlReportTest, IsSelfContained) {
  const std::string html = HtmlReport(TwoDeviceMatrix());
  EXPECT_THAT(html, Not(HasSubstr("http://")));
  EXPECT_THAT(html, Not(HasSubstr("https://")));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr(" src=")));
}

}  // namespace
}  // namespace kvmfarm::farmctl
