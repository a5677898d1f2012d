#include "tools/farmctl/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kvmfarm::farmctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
  EXPECT_THAT(html, HasSubstr(">crypto.sha256 TCG</text>"));
  EXPECT_THAT(html, HasSubstr(">5.7 %</text>"));
  EXPECT_THAT(html, HasSubstr(">boot.time_to_userspace TCG</text>"));
  EXPECT_THAT(html, HasSubstr(">1.331 s</text>"));
  // No KVM figures were measured, so no KVM bars are drawn.
  EXPECT_THAT(html, Not(HasSubstr("crypto.sha256 KVM")));
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

TEST(HtmlEscapeTest, EscapesMarkupCharacters) {
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

}  // namespace
}  // namespace kvmfarm::farmctl
