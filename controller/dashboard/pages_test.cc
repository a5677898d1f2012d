// The pages as pure functions: what each shows, escaped, and who sees which form.
#include "controller/dashboard/pages.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "common/html/testing/markup_check.h"
#include "common/proto_time.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::dashboard {
namespace {

using ::kvmfarm::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

Frame ViewerFrame() {
  Frame frame;
  frame.title = "t";
  frame.who = "vera (token), viewer";
  frame.csrf = "csrf-token-1";
  frame.now = absl::FromUnixSeconds(1'800'000'000);
  return frame;
}

farm::v1::Sweep RunningSweep() {
  farm::v1::Sweep sweep;
  sweep.set_sweep_id("s1");
  sweep.set_state(farm::v1::SWEEP_STATE_RUNNING);
  sweep.set_started_by("otto <script>");
  sweep.add_device_ids("d1");
  sweep.add_device_ids("d2");
  sweep.mutable_counts()->set_total(3);
  sweep.mutable_counts()->set_succeeded(1);
  sweep.mutable_eta()->set_seconds(125);
  for (const auto& [id, device, state] :
       std::vector<std::tuple<std::string, std::string, farm::v1::TaskState>>{
           {"s1/t0", "d1", farm::v1::TASK_STATE_SUCCEEDED},
           {"s1/t1", "d1", farm::v1::TASK_STATE_RUNNING},
           {"s1/t2", "d2", farm::v1::TASK_STATE_PENDING}}) {
    farm::v1::Task* task = sweep.add_tasks();
    task->set_task_id(id);
    task->set_device_id(device);
    task->set_state(state);
    task->set_kind(farm::v1::STEP_KIND_BENCHMARK);
    task->set_mode(farm::v1::MODE_TCG);
  }
  return sweep;
}

TEST(PagesTest, EveryPageIsWellFormedAndEscapesWhatItShows) {
  Frame frame = ViewerFrame();
  FleetView fleet;
  fleet.census.by_verdict["kvm_ready"] = 2;
  farm::v1::Device device;
  device.set_device_id("d1");
  device.mutable_identity()->set_model("<img src=x onerror=alert(1)>");
  device.mutable_capability()->set_verdict(farm::v1::VERDICT_KVM_BOOT_FAILED);
  device.mutable_capability()->add_verdict_reasons("guest hung & \"died\"");
  farm::v1::Label* label = device.add_labels();
  label->set_key("rack");
  label->set_value("r'1");
  fleet.devices.push_back(device);
  DeviceView device_view;
  device_view.device = device;
  for (const std::string& page :
       {FleetPage(frame, fleet), DevicePage(frame, device_view), SweepPage(frame, RunningSweep()),
        SignInPage("bad <token>", "/fleet?x=\"y\""), ErrorPage(frame, 404, "no device '<d>'")}) {
    EXPECT_THAT(html::testing::CheckWellFormed(page), IsOk()) << page;
    EXPECT_THAT(page, Not(HasSubstr("<img")));
    EXPECT_THAT(page, Not(HasSubstr("<script>")));
    EXPECT_THAT(page, Not(HasSubstr("<token>")));
    EXPECT_THAT(page, Not(HasSubstr("'<d>'")));
  }
  EXPECT_THAT(FleetPage(frame, fleet), HasSubstr("<b>2</b><span class=\"badge v-kvm_ready\">"));
  EXPECT_THAT(DevicePage(frame, device_view), HasSubstr("guest hung &amp; &quot;died&quot;"));
}

// Everyone sees who holds a reserved device, and until when; one that ran out is
// not shown as reserved.
TEST(PagesTest, AReservationShowsItsHolderOnTheFleetAndDevicePages) {
  const Frame frame = ViewerFrame();
  FleetView fleet;
  farm::v1::Device device;
  device.set_device_id("d1");
  farm::v1::Reservation* r = device.mutable_reservation();
  r->set_holder("alice <ops>");
  r->set_reason("bisecting");
  *r->mutable_until() = ToProtoTimestamp(frame.now + absl::Hours(2));
  fleet.devices.push_back(device);
  DeviceView device_view;
  device_view.device = device;
  EXPECT_THAT(FleetPage(frame, fleet), HasSubstr("reserved by alice &lt;ops&gt;"));
  const std::string page = DevicePage(frame, device_view);
  EXPECT_THAT(html::testing::CheckWellFormed(page), IsOk());
  EXPECT_THAT(page, HasSubstr("id=\"reservation\""));
  EXPECT_THAT(page, HasSubstr(": bisecting"));
  *device_view.device.mutable_reservation()->mutable_until() =
      ToProtoTimestamp(frame.now - absl::Minutes(1));
  EXPECT_THAT(DevicePage(frame, device_view), Not(HasSubstr("id=\"reservation\"")));
}

TEST(PagesTest, FormsFollowTheRoleAndCarryTheCsrfToken) {
  Frame frame = ViewerFrame();
  DeviceView device;
  device.device.set_device_id("d1");
  EXPECT_THAT(DevicePage(frame, device), Not(HasSubstr("/devices/d1/state")));
  EXPECT_THAT(SweepsPage(frame, {}), Not(HasSubstr("start-sweep")));
  EXPECT_THAT(SweepPage(frame, RunningSweep()), Not(HasSubstr("cancel-form")));
  frame.role = auth::Role::kOperator;
  EXPECT_THAT(SweepsPage(frame, {}), HasSubstr("start-sweep"));
  EXPECT_THAT(SweepPage(frame, RunningSweep()), HasSubstr("cancel-form"));
  EXPECT_THAT(DevicePage(frame, device), Not(HasSubstr("/devices/d1/state")));
  frame.role = auth::Role::kAdmin;
  const std::string admin = DevicePage(frame, device);
  EXPECT_THAT(admin, HasSubstr("action=\"/devices/d1/state\""));
  EXPECT_THAT(admin, HasSubstr("name=\"csrf\" value=\"csrf-token-1\""));
  // A finished sweep can't be cancelled.
  farm::v1::Sweep done = RunningSweep();
  done.set_state(farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_THAT(SweepPage(frame, done), Not(HasSubstr("cancel-form")));
}

TEST(PagesTest, TheSweepPageAndItsProgressAgreeOnEveryBar) {
  const farm::v1::Sweep sweep = RunningSweep();
  const std::string page = SweepPage(ViewerFrame(), sweep);
  EXPECT_THAT(page, HasSubstr("data-live-sweep=\"/sweeps/s1/progress.json\""));
  EXPECT_THAT(page, HasSubstr("id=\"bar-overall\"><span style=\"width:33%\"></span><em>1 / 3"));
  EXPECT_THAT(page, HasSubstr("id=\"bar-dev-d1\"><span style=\"width:50%\"></span><em>1 / 2"));
  EXPECT_THAT(page, HasSubstr("id=\"bar-dev-d2\"><span style=\"width:0%\"></span><em>0 / 1"));
  EXPECT_THAT(page, HasSubstr("2m 05s"));
  EXPECT_THAT(page, HasSubstr("href=\"/tasks/s1%2Ft1/logs\""));
  google::protobuf::Struct progress;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(*SweepProgressJson(sweep), &progress).ok());
  const auto& fields = progress.fields();
  EXPECT_EQ(fields.at("state").string_value(), "running");
  EXPECT_FALSE(fields.at("finished").bool_value());
  EXPECT_EQ(fields.at("done").number_value(), 1);
  EXPECT_EQ(fields.at("total").number_value(), 3);
  EXPECT_EQ(fields.at("eta").string_value(), "2m 05s");
  const auto& devices = fields.at("devices").list_value();
  ASSERT_EQ(devices.values_size(), 2);
  EXPECT_EQ(devices.values(0).struct_value().fields().at("id").string_value(), "d1");
  EXPECT_EQ(devices.values(0).struct_value().fields().at("done").number_value(), 1);
  EXPECT_EQ(devices.values(0).struct_value().fields().at("total").number_value(), 2);
  EXPECT_EQ(fields.at("tasks").list_value().values_size(), 3);
}

TEST(PagesTest, TheMatrixShowsSpreadAndSamplesAndLinksTheNextPage) {
  MatrixView view;
  for (int i = 0; i < 3; ++i) {
    farm::v1::MatrixRow* row = view.matrix.add_rows();
    row->set_key("dev-" + std::to_string(i));
    farm::v1::MatrixCell* cell = row->add_cells();
    cell->set_metric("crypto.sha256");
    cell->set_unit("MB/s");
    cell->mutable_native()->set_median(1500);
    cell->mutable_native()->set_min(1490);
    cell->mutable_native()->set_max(1533);
    cell->mutable_native()->set_samples(3);
    cell->mutable_tcg()->set_median(85.5);
    cell->set_tcg_percent_of_native(5.7);
  }
  view.selector = "rack=r 1";
  view.matrix.mutable_rows(1)->mutable_cells(0)->mutable_tcg()->set_cv_percent(12.5);
  view.matrix.mutable_rows(1)->mutable_cells(0)->mutable_tcg()->set_noisy(true);
  const std::string last = MatrixPage(ViewerFrame(), view);
  EXPECT_THAT(last, HasSubstr(">noisy 12%</span>"));     // %.0f rounds half to even
  EXPECT_EQ(last.find(">noisy"), last.rfind(">noisy"));  // only the noisy one
  EXPECT_THAT(last, Not(HasSubstr(">throttled")));
  view.matrix.mutable_rows(1)->mutable_cells(0)->mutable_native()->set_throttled_samples(2);
  EXPECT_THAT(MatrixPage(ViewerFrame(), view), HasSubstr(">throttled 2/3</span>"));
  EXPECT_THAT(last, HasSubstr("<b>1500</b> <span class=\"muted\">(1490–1533, n=3)</span>"));
  EXPECT_THAT(last, HasSubstr("5.7%"));
  EXPECT_THAT(last, HasSubstr("href=\"/devices/dev-2\""));
  EXPECT_THAT(last, HasSubstr("/matrix.csv?group_by=device&amp;selector=rack%3Dr%201"));
  EXPECT_THAT(last, Not(HasSubstr("page_token=")));
  view.next_page_token = "tok/en";
  EXPECT_THAT(MatrixPage(ViewerFrame(), view), HasSubstr("page_token=tok%2Fen"));
}

TEST(PagesTest, AComparisonListsRegressionsFirst) {
  CompareView view;
  view.sweep_a = "a";
  view.sweep_b = "b";
  farm::v1::CompareSweepsResponse comparison;
  for (const auto& [metric, label] : std::vector<std::pair<std::string, farm::v1::ChangeLabel>>{
           {"m.unchanged", farm::v1::CHANGE_LABEL_UNCHANGED},
           {"m.improved", farm::v1::CHANGE_LABEL_IMPROVED},
           {"m.regressed", farm::v1::CHANGE_LABEL_REGRESSION}}) {
    farm::v1::MetricChange* change = comparison.add_changes();
    change->set_device_id("d1");
    change->set_metric(metric);
    change->set_label(label);
    change->set_change_percent(-12.5);
  }
  view.comparison = comparison;
  const std::string page = ComparePage(ViewerFrame(), view);
  const size_t regressed = page.find("m.regressed");
  const size_t improved = page.find("m.improved");
  const size_t unchanged = page.find("m.unchanged");
  ASSERT_NE(regressed, std::string::npos);
  EXPECT_LT(regressed, improved);
  EXPECT_LT(improved, unchanged);
  EXPECT_THAT(page, HasSubstr("-12.5%"));
}

TEST(PagesTest, TheRegressionsPageShowsEachRecordsEvidenceAndTheBaselines) {
  RegressionsView view;
  farm::v1::Regression* slow = view.regressions.add_regressions();
  slow->set_state(farm::v1::REGRESSION_STATE_OPEN);
  slow->set_device_id("<p8>");
  slow->mutable_baseline()->set_sweep_id("s1");
  slow->set_first_sweep_id("s2");
  slow->set_last_sweep_id("s3");
  slow->mutable_last_change()->set_metric("integer.time");
  slow->mutable_last_change()->set_change_percent(120);
  slow->mutable_last_change()->set_p_value(0.0079);
  slow->mutable_last_change()->set_provenance_changes("qemu 7.2.5 -> 8.0.0");
  farm::v1::Regression* verdict = view.regressions.add_regressions();
  verdict->set_kind(farm::v1::REGRESSION_KIND_VERDICT);
  verdict->set_state(farm::v1::REGRESSION_STATE_FIXED);
  verdict->set_verdict_before(farm::v1::VERDICT_KVM_READY);
  verdict->set_verdict_after(farm::v1::VERDICT_KVM_READY);
  verdict->set_fixed_sweep_id("s9");
  farm::v1::Baseline* baseline = view.baselines.add_baselines();
  baseline->set_scope(farm::v1::BASELINE_SCOPE_MODEL);
  baseline->set_key("Pixel 8");
  baseline->set_sweep_id("s1");
  const std::string page = RegressionsPage(ViewerFrame(), view);
  EXPECT_THAT(html::testing::CheckWellFormed(page), IsOk()) << page;
  EXPECT_THAT(page, Not(HasSubstr("<p8>")));
  EXPECT_THAT(page, HasSubstr("+120.0% p=0.0079"));
  EXPECT_THAT(page, HasSubstr("across qemu 7.2.5 -&gt; 8.0.0"));
  EXPECT_THAT(page, HasSubstr("class=\"badge s-open\""));
  EXPECT_THAT(page, HasSubstr("class=\"badge s-fixed\""));
  EXPECT_THAT(page, HasSubstr("/sweeps/s9"));
  EXPECT_THAT(page, HasSubstr("Pixel 8"));
}

}  // namespace
}  // namespace kvmfarm::dashboard
