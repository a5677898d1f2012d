#include "tools/farmctl/format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::farmctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

farm::v1::GetMatrixResponse Matrix() {
  farm::v1::GetMatrixResponse m;
  farm::v1::MatrixRow* row = m.add_rows();
  row->set_key("op12");
  row->set_verdict(farm::v1::VERDICT_KVM_READY);
  farm::v1::MatrixCell* cell = row->add_cells();
  cell->set_metric("crypto.sha256");
  cell->set_unit("MB/s");
  cell->mutable_native()->set_median(1000);
  cell->mutable_native()->set_samples(3);
  cell->mutable_native()->set_samples_requested(3);
  cell->mutable_tcg()->set_median(75);
  cell->mutable_tcg()->set_samples(2);
  cell->mutable_tcg()->set_samples_requested(3);
  cell->set_tcg_percent_of_native(7.5);
  farm::v1::MatrixRow* fixture = m.add_rows();
  fixture->set_key("sd835, lab \"b\"");
  fixture->set_is_fixture(true);
  fixture->set_verdict(farm::v1::VERDICT_NO_HYPERVISOR_MODE);
  return m;
}

TEST(FormatMatrixTest, TableMarksShortSamplesAndAbsentFigures) {
  absl::StatusOr<std::string> table = FormatMatrix(Matrix(), "table");
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(*table, HasSubstr("75 (2/3)"));
  EXPECT_THAT(*table, HasSubstr("7.5%"));
  EXPECT_THAT(*table, HasSubstr("[fixture]"));
  EXPECT_THAT(*table, HasSubstr("kvm_ready"));
}

TEST(FormatMatrixTest, AGuestOfAnotherArchitectureIsNamedInTheMetric) {
  farm::v1::GetMatrixResponse m = Matrix();
  farm::v1::MatrixCell* cross = m.mutable_rows(0)->add_cells();
  *cross = m.rows(0).cells(0);
  (*cross->mutable_parameters())["guest_arch"] = "arm64";
  absl::StatusOr<std::string> table = FormatMatrix(m, "table");
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(*table, HasSubstr("crypto.sha256 (arm64 guest)"));
}

TEST(FormatMatrixTest, CsvHasTheHeadersColumnsOnEveryLineAndQuotes) {
  absl::StatusOr<std::string> csv = FormatMatrix(Matrix(), "csv");
  ASSERT_TRUE(csv.ok());
  std::vector<std::string> lines = absl::StrSplit(*csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[2], HasSubstr("\"sd835, lab \"\"b\"\" [fixture]\""));
  EXPECT_EQ(std::count(lines[0].begin(), lines[0].end(), ','), 9);
  EXPECT_EQ(std::count(lines[1].begin(), lines[1].end(), ','), 9);
}

TEST(FormatMatrixTest, ANoisyFigureShowsItsSpread) {
  farm::v1::GetMatrixResponse m = Matrix();
  m.mutable_rows(0)->mutable_cells(0)->mutable_tcg()->set_cv_percent(19.6);
  m.mutable_rows(0)->mutable_cells(0)->mutable_tcg()->set_noisy(true);
  absl::StatusOr<std::string> table = FormatMatrix(m, "table");
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(*table, HasSubstr("75 (2/3) ~20%"));
  EXPECT_THAT(*table, Not(HasSubstr("1000 ~")));
}

TEST(FormatMatrixTest, AThrottledFigureSaysHowManyOfItsSamples) {
  farm::v1::GetMatrixResponse m = Matrix();
  m.mutable_rows(0)->mutable_cells(0)->mutable_tcg()->set_throttled_samples(1);
  absl::StatusOr<std::string> table = FormatMatrix(m, "table");
  ASSERT_TRUE(table.ok());
  EXPECT_THAT(*table, HasSubstr("75 (2/3) throttled 1/2"));
  EXPECT_EQ(table->find("throttled"), table->rfind("throttled"));
}

TEST(DevicesTableTest, AReservationAndAgentVersionSkewShow) {
  std::vector<farm::v1::Device> devices(3);
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  for (int i = 0; i < 3; ++i) {
    devices[i].set_device_id(absl::StrCat("d", i));
    devices[i].mutable_agent()->set_version(i == 2 ? "0.0.9" : "0.1.0");
  }
  devices[0].mutable_reservation()->set_holder("alice");
  devices[0].mutable_reservation()->mutable_until()->set_seconds(1'000'100);
  devices[1].mutable_reservation()->set_holder("bob");  // ran out
  devices[1].mutable_reservation()->mutable_until()->set_seconds(999'000);
  const std::string table = DevicesTable(devices, now);
  EXPECT_THAT(table, HasSubstr("unspecified, reserved by alice"));
  EXPECT_THAT(table, Not(HasSubstr("bob")));
  EXPECT_THAT(table, HasSubstr("agent version skew: 0.0.9 on 1, 0.1.0 on 2"));
  devices.pop_back();
  EXPECT_THAT(DevicesTable(devices, now), Not(HasSubstr("skew")));
}

TEST(SchedulesTableTest, EachScheduleSaysWhenAndWhatItsLastRunDid) {
  farm::v1::ListSchedulesResponse schedules;
  farm::v1::Schedule* nightly = schedules.add_schedules();
  nightly->set_schedule_id("nightly");
  nightly->set_cron("0 3 * * *");
  nightly->set_runs(4);
  nightly->set_last_outcome("skipped: the previous run, s-1, has not ended");
  farm::v1::Schedule* check = schedules.add_schedules();
  check->set_schedule_id("health-check");
  check->mutable_spec()->set_health_check(true);
  check->mutable_every()->set_seconds(86400);
  const std::string table = SchedulesTable(schedules);
  EXPECT_THAT(table, HasSubstr("cron 0 3 * * *"));
  EXPECT_THAT(table, HasSubstr("skipped: the previous run, s-1, has not ended"));
  EXPECT_THAT(table, HasSubstr("every 24h"));
  EXPECT_THAT(table, HasSubstr("health check"));
}

// What an agent reports reaches spreadsheets: a formula stays text, a number a number.
TEST(FormatMatrixTest, CsvNeverHandsASpreadsheetAFormula) {
  farm::v1::GetMatrixResponse m = Matrix();
  m.mutable_rows(0)->set_key("=HYPERLINK(\"http://x\")");
  m.mutable_rows(0)->mutable_cells(0)->set_metric("@sum");
  m.mutable_rows(0)->mutable_cells(0)->set_unit("a\rb");
  m.mutable_rows(0)->mutable_cells(0)->mutable_native()->set_median(-5);
  absl::StatusOr<std::string> csv = FormatMatrix(m, "csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_THAT(*csv, HasSubstr("\"'=HYPERLINK(\"\"http://x\"\")\""));
  EXPECT_THAT(*csv, HasSubstr("\"'@sum\""));
  EXPECT_THAT(*csv, HasSubstr("\"a\rb\""));
  EXPECT_THAT(*csv, HasSubstr(",-5"));
}

TEST(FormatMatrixTest, MarkdownAndJsonAndBadFormats) {
  absl::StatusOr<std::string> md = FormatMatrix(Matrix(), "markdown");
  ASSERT_TRUE(md.ok());
  std::vector<std::string> lines = absl::StrSplit(*md, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1], "|---|---|---|---|---|---|---|---|---|---|");
  absl::StatusOr<std::string> json = FormatMatrix(Matrix(), "json");
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"tcgPercentOfNative\": 7.5"));
  EXPECT_FALSE(FormatMatrix(Matrix(), "yaml").ok());
}

TEST(CompareTableTest, RegressionsFirst) {
  farm::v1::CompareSweepsResponse r;
  farm::v1::MetricChange* same = r.add_changes();
  same->set_metric("float.time");
  same->set_label(farm::v1::CHANGE_LABEL_UNCHANGED);
  farm::v1::VerdictChange* broke = r.add_verdict_changes();
  broke->set_device_id("p8");
  broke->set_verdict_a(farm::v1::VERDICT_KVM_READY);
  broke->set_verdict_b(farm::v1::VERDICT_KVM_UNUSABLE);
  broke->set_label(farm::v1::CHANGE_LABEL_REGRESSION);
  std::vector<std::string> lines = absl::StrSplit(CompareTable(r), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[1], HasSubstr("regression"));
  EXPECT_THAT(lines[1], HasSubstr("kvm_unusable"));
}

TEST(MatrixTableTest, ARatioShowsItsIntervalWhenTheCellHasOne) {
  farm::v1::GetMatrixResponse matrix;
  farm::v1::MatrixCell* cell = matrix.add_rows()->add_cells();
  cell->set_metric("crypto.sha256");
  cell->set_kvm_percent_of_native(91);
  cell->mutable_kvm_percent_of_native_interval()->set_low(89.24);
  cell->mutable_kvm_percent_of_native_interval()->set_high(92.81);
  cell->set_tcg_percent_of_native(10);
  const MatrixTable table = MatrixAsTable(matrix);
  ASSERT_EQ(table.rows.size(), 1u);
  EXPECT_EQ(table.rows[0][7], "91.0% [89.2-92.8]");
  EXPECT_EQ(table.rows[0][8], "10.0%");  // no interval: none shown
  EXPECT_EQ(table.rows[0][9], "-");
}

TEST(RegressionsTableTest, EachRecordWithItsLatestEvidenceAndWhereItStands) {
  farm::v1::ListRegressionsResponse r;
  farm::v1::Regression* slow = r.add_regressions();
  slow->set_state(farm::v1::REGRESSION_STATE_OPEN);
  slow->set_device_id("p8");
  slow->mutable_baseline()->set_sweep_id("s1");
  slow->set_first_sweep_id("s2");
  slow->set_last_sweep_id("s3");
  farm::v1::MetricChange* change = slow->mutable_last_change();
  change->set_metric("crypto.sha256");
  change->set_mode(farm::v1::MODE_KVM);
  change->set_change_percent(-21.5);
  change->set_p_value(0.0079);
  change->set_samples_a(5);
  change->set_samples_b(5);
  change->set_provenance_changes("agent 0.3.0 -> 0.4.0");
  farm::v1::Regression* verdict = r.add_regressions();
  verdict->set_kind(farm::v1::REGRESSION_KIND_VERDICT);
  verdict->set_state(farm::v1::REGRESSION_STATE_FIXED);
  verdict->set_device_id("sdm");
  verdict->set_verdict_before(farm::v1::VERDICT_KVM_READY);
  verdict->set_verdict_after(farm::v1::VERDICT_KVM_READY);
  verdict->set_fixed_sweep_id("s9");
  std::vector<std::string> lines = absl::StrSplit(RegressionsTable(r), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[1], HasSubstr("open"));
  EXPECT_THAT(lines[1], HasSubstr("crypto.sha256 kvm"));
  EXPECT_THAT(lines[1], HasSubstr("-21.5% p=0.0079 n=5/5; across agent 0.3.0 -> 0.4.0"));
  EXPECT_THAT(lines[1], HasSubstr("s3"));
  EXPECT_THAT(lines[2], HasSubstr("fixed"));
  EXPECT_THAT(lines[2], HasSubstr("kvm_ready -> kvm_ready"));
  EXPECT_THAT(lines[2], HasSubstr("s9"));
}

}  // namespace
}  // namespace kvmfarm::farmctl
