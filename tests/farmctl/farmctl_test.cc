// farmctl end to end, against a real controller and agents (ports chosen by the
// OS): devices, a sweep watched to completion, the matrix in every format, compare,
// task logs, probe, the HTML report, and the errors a script relies on.
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/testing/run_binary.h"
#include "common/testing/server_process.h"
#include "common/testing/wait_for.h"
#include "common/tls/testing/test_lab.h"
#include "farm/v1/controller.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::Concat;
using ::kvmfarm::testing::Runfile;
using ::kvmfarm::testing::ServerProcess;
using ::kvmfarm::testing::TestLab;
using ::testing::HasSubstr;
using ::testing::Not;

class FarmctlTest : public ::testing::Test {
 protected:
  // Everything over mutual TLS with the lab's certificates, operators with tokens.
  static void SetUpTestSuite() {
    lab_ = new TestLab(absl::StrCat(std::getenv("TEST_TMPDIR"), "/lab"));
    const std::string db = absl::StrCat(std::getenv("TEST_TMPDIR"), "/farmctl.db");
    controller_ = new ServerProcess(
        Runfile("controller/farm-controller"), "farm-controller",
        Concat({"--db", db, "--heartbeat-interval=200ms"}, lab_->ControllerFlags()));
    address_ = new std::string(controller_->WaitUntilListening());
    agent_ = new ServerProcess(Runfile("agent/farm-agent"), "farm-agent",
                               Concat({"--controller", *address_, "--background-boot-check=false",
                                       absl::StrCat("--work-dir=", std::getenv("TEST_TMPDIR"))},
                                      lab_->AgentFlags("bench-host")));
    agent_address_ = new std::string(agent_->WaitUntilListening());
    fixture_ = new ServerProcess(Runfile("agent/farm-agent"), "farm-agent",
                                 Concat({"--controller", *address_, "--sysroot",
                                         Runfile("tests/fixtures/devices/sd8gen3-stock")},
                                        lab_->AgentFlags("sd8gen3-stock-fixture")));
    fixture_->WaitUntilListening();
  }
  static void TearDownTestSuite() {
    delete fixture_;
    delete agent_;
    delete controller_;
    delete lab_;
  }

  // farmctl as an operator (a token of the operator role).
  ProcessResult Farmctl(std::vector<std::string> args) {
    return FarmctlAs(lab_->FarmctlFlags("ops", "operator"), std::move(args));
  }

  ProcessResult FarmctlAs(const std::vector<std::string>& identity, std::vector<std::string> args) {
    args.insert(args.begin(), identity.begin(), identity.end());
    args.insert(args.begin(), "--controller=" + *address_);
    ProcessResult result = testing::RunBinary(Runfile("tools/farmctl/farmctl"), args);
    outputs_.push_back(result.stdout_data + result.stderr_data);
    return result;
  }

  // Until both agents registered (they heartbeat every 200 ms).
  void WaitForDevices() {
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          const ProcessResult r = Farmctl({"devices"});
          return absl::StrContains(r.stdout_data, "bench-host") &&
                 absl::StrContains(r.stdout_data, "sd8gen3-stock-fixture");
        },
        absl::Seconds(30)))
        << "agents never registered";
  }

  std::string StartSweep() {
    const ProcessResult r =
        Farmctl({"sweep", "start", "--devices=bench-host", "--plan=capability,native",
                 "--workloads=crypto,float", "--repetitions=2", "--watch"});
    EXPECT_EQ(r.exit_code, 0) << r.stdout_data << r.stderr_data;
    EXPECT_THAT(r.stdout_data, HasSubstr("succeeded"));
    return std::string(absl::string_view(r.stdout_data).substr(0, r.stdout_data.find(' ')));
  }

  static TestLab* lab_;
  static ServerProcess* controller_;
  static ServerProcess* agent_;
  static ServerProcess* fixture_;
  static std::string* address_;
  static std::string* agent_address_;
  // What every farmctl run of this test printed.
  std::vector<std::string> outputs_;
};

TestLab* FarmctlTest::lab_ = nullptr;
ServerProcess* FarmctlTest::controller_ = nullptr;
ServerProcess* FarmctlTest::agent_ = nullptr;
ServerProcess* FarmctlTest::fixture_ = nullptr;
std::string* FarmctlTest::address_ = nullptr;
std::string* FarmctlTest::agent_address_ = nullptr;

TEST_F(FarmctlTest, SweepMatrixCompareLogs) {
  WaitForDevices();
  const ProcessResult devices = Farmctl({"devices", "--selector=hypervisor=gunyah"});
  EXPECT_THAT(devices.stdout_data, HasSubstr("sd8gen3-stock-fixture"));
  EXPECT_THAT(devices.stdout_data, ::testing::Not(HasSubstr("bench-host")));

  const std::string first = StartSweep();
  const std::string second = StartSweep();
  ASSERT_FALSE(second.empty());

  const ProcessResult json = Farmctl({"matrix", "--format=json"});
  ASSERT_EQ(json.exit_code, 0) << json.stderr_data;
  farm::v1::GetMatrixResponse matrix;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.stdout_data, &matrix).ok());
  ASSERT_EQ(matrix.rows_size(), 2);
  const ProcessResult csv = Farmctl({"matrix", "--format=csv"});
  for (absl::string_view line : absl::StrSplit(csv.stdout_data, '\n', absl::SkipEmpty())) {
    EXPECT_EQ(std::count(line.begin(), line.end(), ','), 9) << line;
  }
  const ProcessResult md = Farmctl({"matrix", "--format=markdown", "--group-by=soc"});
  EXPECT_THAT(md.stdout_data, HasSubstr("|---|"));
  EXPECT_THAT(md.stdout_data, HasSubstr("Snapdragon 8 Gen 3 [fixture]"));
  EXPECT_THAT(Farmctl({"matrix"}).stdout_data, HasSubstr("crypto.sha256"));

  const ProcessResult compare = Farmctl({"compare", first, second, "--threshold=1000"});
  EXPECT_EQ(compare.exit_code, 0);
  EXPECT_THAT(compare.stdout_data, HasSubstr("unchanged"));
  const ProcessResult logs = Farmctl({"task", "logs", second + "/t1"});
  EXPECT_THAT(logs.stdout_data, HasSubstr("result stored"));
  EXPECT_THAT(Farmctl({"sweep", "list"}).stdout_data, HasSubstr(first));
  // Newest first; --limit cuts the list, --state filters it before the limit.
  const ProcessResult newest = Farmctl({"sweep", "list", "--limit=1"});
  EXPECT_THAT(newest.stdout_data, HasSubstr(second));
  EXPECT_THAT(newest.stdout_data, ::testing::Not(HasSubstr(first)));
  EXPECT_THAT(Farmctl({"sweep", "list", "--state=succeeded", "--limit=2"}).stdout_data,
              HasSubstr(first));
  EXPECT_EQ(Farmctl({"sweep", "list", "--state=running,cancelled"}).stdout_data, "");
  const ProcessResult history = Farmctl({"device", "history", "bench-host", "--limit=2"});
  EXPECT_EQ(std::count(history.stdout_data.begin(), history.stdout_data.end(), '\n'), 2)
      << history.stdout_data;
  EXPECT_THAT(Farmctl({"sweep", "show", first}).stdout_data, HasSubstr("capability"));
  // Watching a sweep that already ended prints its summary and its outcome.
  const ProcessResult rewatch = Farmctl({"sweep", "watch", first});
  EXPECT_EQ(rewatch.exit_code, 0) << rewatch.stderr_data;
  EXPECT_THAT(rewatch.stdout_data, HasSubstr(first + "  succeeded"));
  EXPECT_THAT(Farmctl({"device", "history", "bench-host"}).stdout_data, HasSubstr("registered"));
  // An agent answers the lab's controllers only: probing it takes a controller's
  // certificate.
  const TlsFiles controller_files = lab_->Controller("c1");
  const ProcessResult probe =
      FarmctlAs(TestLab::Flags(controller_files), {"probe", "--agent=" + *agent_address_});
  EXPECT_THAT(probe.stdout_data, HasSubstr("Verdict: ")) << probe.stderr_data;
  const ProcessResult refused = Farmctl({"probe", "--agent=" + *agent_address_});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.stderr_data, HasSubstr("UNAVAILABLE"));

  const std::string report_path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/report.html");
  const ProcessResult report = Farmctl({"report", "--out=" + report_path});
  ASSERT_EQ(report.exit_code, 0) << report.stderr_data;
  std::ifstream report_file(report_path);
  const std::string html((std::istreambuf_iterator<char>(report_file)),
                         std::istreambuf_iterator<char>());
  EXPECT_THAT(html, HasSubstr("<table id=\"matrix\">"));
  EXPECT_THAT(html, HasSubstr("<td>bench-host</td>"));
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("<title>crypto.sha256, native: 100 %</title>"));
  // The sweeps behind it, and who started them.
  EXPECT_THAT(html, HasSubstr("<td>" + first + "</td><td>succeeded</td>"));
  EXPECT_THAT(html, HasSubstr("<td>ops (token)</td>"));
}

// A boot sweep: the TCG guest boots for real; KVM is attempted and reported as it
// is on this machine (a failed boot is a stored result, not a failed task).
TEST_F(FarmctlTest, BootSweepMeasuresTcgBootTime) {
  WaitForDevices();
  const ProcessResult sweep = Farmctl(
      {"sweep", "start", "--devices=bench-host", "--plan=boot", "--repetitions=1", "--watch"});
  ASSERT_EQ(sweep.exit_code, 0) << sweep.stdout_data << sweep.stderr_data;
  const ProcessResult json = Farmctl({"matrix", "--format=json", "--devices=bench-host"});
  farm::v1::GetMatrixResponse matrix;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.stdout_data, &matrix).ok());
  ASSERT_EQ(matrix.rows_size(), 1);
  bool found = false;
  for (const farm::v1::MatrixCell& cell : matrix.rows(0).cells()) {
    if (cell.metric() != "boot.time_to_userspace") continue;
    found = true;
    ASSERT_TRUE(cell.tcg().has_median()) << cell.DebugString();
    EXPECT_GT(cell.tcg().median(), 0.05);
    EXPECT_LT(cell.tcg().median(), 120);
  }
  EXPECT_TRUE(found) << matrix.DebugString();
}

// Schedules and reservations (issue 21) through a real controller: an operator adds,
// lists and deletes a schedule, reserves a device (a sweep then leaves it out and
// the table shows who holds it) and releases it; a viewer may only look.
TEST_F(FarmctlTest, SchedulesAndReservations) {
  WaitForDevices();
  ProcessResult r = Farmctl({"schedule", "add", "nightly-check", "--cron=0 3 * * *",
                             "--health-check", "--selector=hypervisor=gunyah"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("nightly-check"));
  EXPECT_THAT(r.stdout_data, HasSubstr("health check"));
  EXPECT_THAT(r.stdout_data, HasSubstr("cron 0 3 * * *"));
  EXPECT_THAT(r.stdout_data, HasSubstr("T03:00:00Z"));  // its next run
  r = Farmctl({"schedule", "add", "nightly-check", "--every=6h"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("already exists"));
  r = Farmctl({"schedule", "add", "twice", "--every=6h", "--cron=0 3 * * *"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("exactly one of --every"));
  r = Farmctl({"schedule", "add", "bad", "--cron=0 3 * JAN *"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("month: 'JAN' is not a number"));
  const std::vector<std::string> viewer = lab_->FarmctlFlags("watcher", "viewer");
  EXPECT_THAT(FarmctlAs(viewer, {"schedule", "list"}).stdout_data, HasSubstr("nightly-check"));
  r = FarmctlAs(viewer, {"schedule", "delete", "nightly-check"});
  EXPECT_THAT(r.stderr_data, HasSubstr("PERMISSION_DENIED"));
  ASSERT_EQ(Farmctl({"schedule", "delete", "nightly-check"}).exit_code, 0);
  EXPECT_THAT(Farmctl({"schedule", "list"}).stdout_data, Not(HasSubstr("nightly-check")));

  r = Farmctl({"device", "reserve", "sd8gen3-stock-fixture", "--for=2h"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("--reason"));
  r = Farmctl({"device", "reserve", "sd8gen3-stock-fixture", "--for=2h", "--reason=rewiring"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(r.stdout_data, HasSubstr("reserved by"));
  EXPECT_THAT(Farmctl({"devices"}).stdout_data, HasSubstr("good, reserved by"));
  r = Farmctl({"sweep", "start", "--devices=sd8gen3-stock-fixture", "--plan=capability"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("is reserved by"));
  EXPECT_THAT(r.stderr_data, HasSubstr("rewiring"));
  ASSERT_EQ(Farmctl({"device", "release", "sd8gen3-stock-fixture"}).exit_code, 0);
  EXPECT_THAT(Farmctl({"devices"}).stdout_data, Not(HasSubstr("reserved")));
  EXPECT_THAT(Farmctl({"device", "history", "sd8gen3-stock-fixture", "--limit=2"}).stdout_data,
              HasSubstr("released by"));
}

TEST_F(FarmctlTest, ErrorsScriptsCanRelyOn) {
  // --help is enough to start: every command and every flag with its meaning.
  const ProcessResult help = Farmctl({"--help"});
  EXPECT_THAT(help.stdout_data, HasSubstr("farmctl report [--out report.html]"));
  EXPECT_THAT(help.stdout_data, HasSubstr("--plan (sweep start: any of capability"));
  // Each command's own --help: what it does, its flags with their meaning, an example.
  const ProcessResult sweep_help = Farmctl({"sweep", "start", "--help"});
  EXPECT_EQ(sweep_help.exit_code, 0) << sweep_help.stderr_data;
  EXPECT_THAT(sweep_help.stdout_data, HasSubstr("farmctl sweep start [--selector"));
  for (const char* flag :
       {"--plan (sweep start: any of capability", "--workloads (", "--repetitions (",
        "--max-parallel (", "--watch (", "--selector (", "--devices ("}) {
    EXPECT_THAT(sweep_help.stdout_data, HasSubstr(flag));
  }
  EXPECT_THAT(sweep_help.stdout_data, HasSubstr("Example:\n  farmctl sweep start "));
  EXPECT_THAT(sweep_help.stdout_data, ::testing::Not(HasSubstr("--group-by")));
  ProcessResult r = Farmctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("unknown command 'frobnicate'"));
  r = Farmctl({"matrix", "--format=yaml"});
  EXPECT_EQ(r.exit_code, 2);
  r = Farmctl({"sweep", "start", "--plan=capability,warp"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("'warp'"));
  r = Farmctl({"sweep", "list", "--state=finished"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("--state: 'finished'"));
  r = Farmctl({"sweep", "show", "no-such-sweep"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("NOT_FOUND"));
  // Neither TLS nor --insecure: how to get certificates.
  r = testing::RunBinary(Runfile("tools/farmctl/farmctl"),
                         {"--controller=" + *address_, "devices"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.stderr_data, HasSubstr("tools/pki/pki.sh"));
  // Plaintext against the TLS controller: refused, one line.
  r = testing::RunBinary(Runfile("tools/farmctl/farmctl"),
                         {"--controller=" + *address_, "--insecure", "devices"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("UNAVAILABLE"));
  // An unreachable controller: one clear line, non-zero.
  r = testing::RunBinary(Runfile("tools/farmctl/farmctl"),
                         {"--controller=127.0.0.1:1", "--insecure", "devices"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("farmctl: UNAVAILABLE"));
  EXPECT_EQ(std::count(r.stderr_data.begin(), r.stderr_data.end(), '\n'), 1);
}

// Who may do what, who did it, and no secret in any log.
TEST_F(FarmctlTest, RolesAreCheckedAuditedAndNoSecretIsLogged) {
  WaitForDevices();
  const std::vector<std::string> viewer = lab_->FarmctlFlags("watcher", "viewer");
  const std::vector<std::string> admin = lab_->FarmctlFlags("boss", "admin");
  // A viewer sees, but may not start a sweep.
  EXPECT_EQ(FarmctlAs(viewer, {"devices"}).exit_code, 0);
  ProcessResult r = FarmctlAs(viewer, {"sweep", "start", "--devices=bench-host"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(r.stderr_data, HasSubstr("needs the operator role"));
  // No identity at all, and a token the controller never granted.
  r = FarmctlAs({"--tls_ca", lab_->ca()}, {"devices"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_data, HasSubstr("UNAUTHENTICATED"));
  const std::string forged = absl::StrCat(std::getenv("TEST_TMPDIR"), "/forged-token");
  {
    std::ofstream out(forged);
    out << std::string(64, 'a') << "\n";
  }
  ASSERT_EQ(chmod(forged.c_str(), 0600), 0);
  r = FarmctlAs({"--tls_ca", lab_->ca(), "--token_file", forged}, {"devices"});
  EXPECT_THAT(r.stderr_data, HasSubstr("UNAUTHENTICATED"));
  // An operator may not change a device's state; an admin may, and is named.
  r = Farmctl({"device", "set-state", "sd8gen3-stock-fixture", "maintenance", "--reason=cable"});
  EXPECT_THAT(r.stderr_data, HasSubstr("needs the admin role"));
  r = FarmctlAs(admin,
                {"device", "set-state", "sd8gen3-stock-fixture", "maintenance", "--reason=cable"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  EXPECT_THAT(FarmctlAs(viewer, {"device", "history", "sd8gen3-stock-fixture"}).stdout_data,
              HasSubstr("by boss (token): cable"));
  EXPECT_EQ(
      FarmctlAs(admin, {"device", "set-state", "sd8gen3-stock-fixture", "good", "--reason=fixed"})
          .exit_code,
      0);
  // Who started and who cancelled a sweep is kept with it.
  r = Farmctl({"sweep", "start", "--devices=bench-host", "--plan=capability,native",
               "--workloads=crypto", "--repetitions=50"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_data;
  const std::string sweep = r.stdout_data.substr(0, r.stdout_data.find(' '));
  EXPECT_EQ(FarmctlAs(admin, {"sweep", "cancel", sweep, "--reason=enough"}).exit_code, 0);
  const ProcessResult show = FarmctlAs(viewer, {"sweep", "show", sweep});
  EXPECT_THAT(show.stdout_data, HasSubstr("started by ops (token)"));
  EXPECT_THAT(show.stdout_data, HasSubstr("cancelled by boss (token)"));

  // No token and no private key in anything a process printed.
  std::vector<std::string> logs = outputs_;
  logs.push_back(controller_->Log());
  logs.push_back(agent_->Log());
  logs.push_back(fixture_->Log());
  for (const char* name : {"ops", "watcher", "boss", "test-viewer"}) {
    const std::string token = lab_->Token(name, "viewer");
    for (const std::string& log : logs) EXPECT_THAT(log, Not(HasSubstr(token))) << name;
  }
  for (const std::string& log : logs) {
    EXPECT_THAT(log, Not(HasSubstr(std::string(64, 'a'))));
    EXPECT_THAT(log, Not(HasSubstr("PRIVATE KEY")));
  }
}

}  // namespace
}  // namespace kvmfarm
