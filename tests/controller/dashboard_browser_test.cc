// The dashboard in a real browser (issue 19): a real controller with the lab's
// certificates and a real agent, and Debian's headless Chromium driven over the
// DevTools pipe. An operator signs in with a token, starts a sweep from the form
// and watches its page move from running to done without a reload; every page is
// checked against what the gRPC API says (through farmctl) and photographed into
// the test's outputs (fleet.png and device.png are the README's screenshots).
#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/testing/run_binary.h"
#include "common/testing/server_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/testing/wait_for.h"
#include "common/tls/testing/test_lab.h"
#include "controller/dashboard/testing/chromium.h"
#include "farm/v1/controller.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::dashboard::testing::Chromium;
using ::kvmfarm::dashboard::testing::ChromiumOptions;
using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::Runfile;
using ::kvmfarm::testing::ServerProcess;
using ::kvmfarm::testing::TestLab;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A JavaScript string literal of `text` (tokens and ids are plain ASCII).
std::string JsString(const std::string& text) { return absl::StrCat("'", text, "'"); }

class DashboardBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = std::make_unique<TestLab>(kvmfarm::testing::FreshTestDir("-lab"));
    operator_flags_ = lab_->FarmctlFlags("otto", "operator");
    operator_token_ = lab_->Token("otto", "operator");
    std::vector<std::string> args = {"--db", kvmfarm::testing::FreshTestPath(".db"),
                                     "--heartbeat-interval=1s", "--http_listen=127.0.0.1:0"};
    for (const std::string& flag : lab_->ControllerFlags()) args.push_back(flag);
    controller_ = std::make_unique<ServerProcess>(Runfile("controller/farm-controller"),
                                                  "farm-controller", args);
    address_ = controller_->WaitUntilListening();
    ASSERT_FALSE(address_.empty());
    http_port_ = controller_->HttpPort();
    ASSERT_GT(http_port_, 0) << controller_->Log();
    base_ = absl::StrCat("https://127.0.0.1:", http_port_);
    agent_ = std::make_unique<ServerProcess>(
        Runfile("agent/farm-agent"), "farm-agent",
        testing::Concat({"--controller", address_, "--background-boot-check=false",
                         absl::StrCat("--work-dir=", std::getenv("TEST_TMPDIR"))},
                        lab_->AgentFlags("host-a")));
    ASSERT_FALSE(agent_->WaitUntilListening().empty());
    ASSERT_TRUE(
        testing::WaitFor([&] { return Farmctl({"devices"}).find("host-a") != std::string::npos; }));
    const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    outputs_ = outputs != nullptr ? outputs : std::getenv("TEST_TMPDIR");
  }

  // farmctl's output as the operator (the gRPC API's answer).
  std::string Farmctl(std::vector<std::string> args) {
    args.insert(args.begin(), operator_flags_.begin(), operator_flags_.end());
    args.insert(args.begin(), "--controller=" + address_);
    return testing::RunBinary(Runfile("tools/farmctl/farmctl"), args).stdout_data;
  }

  std::unique_ptr<Chromium> Browser(int width, int height) {
    ChromiumOptions options;
    options.width = width;
    options.height = height;
    // The lab's CA isn't in the browser's trust store; the client side of TLS is
    // tested by http_integration_test.
    options.extra_flags = {"--ignore-certificate-errors"};
    absl::StatusOr<std::unique_ptr<Chromium>> browser = Chromium::Start(options);
    EXPECT_THAT(browser, IsOk());
    return browser.ok() ? *std::move(browser) : nullptr;
  }

  // Opens `path`: the sign-in page first, the token typed and submitted.
  void SignIn(Chromium& browser, const std::string& path) {
    ASSERT_THAT(browser.Navigate(base_ + path), IsOk());
    ASSERT_THAT(browser.WaitFor("location.pathname == '/signin'", absl::Seconds(10)), IsOk());
    ASSERT_THAT(browser.Evaluate(absl::StrCat(
                    "document.getElementById('token').value = ", JsString(operator_token_),
                    "; document.getElementById('signin').click(); 1")),
                IsOk());
    ASSERT_THAT(browser.WaitFor(absl::StrCat("location.pathname == ", JsString(path),
                                             " && document.readyState == 'complete'"),
                                absl::Seconds(10)),
                IsOk());
  }

  std::string Text(Chromium& browser, const std::string& selector) {
    absl::StatusOr<std::string> text = browser.Evaluate(
        absl::StrCat("document.querySelector(", JsString(selector), ").textContent"));
    EXPECT_THAT(text, IsOk()) << selector;
    return text.ok() ? *text : "";
  }

  void Photograph(Chromium& browser, const std::string& name) {
    const std::string path = absl::StrCat(outputs_, "/", name, ".png");
    EXPECT_THAT(browser.Screenshot(path), IsOk()) << name;
  }

  std::unique_ptr<TestLab> lab_;
  std::vector<std::string> operator_flags_;
  std::string operator_token_;
  std::unique_ptr<ServerProcess> controller_;
  std::unique_ptr<ServerProcess> agent_;
  std::string address_;
  int http_port_ = 0;
  std::string base_;
  std::string outputs_;
};

TEST_F(DashboardBrowserTest, AnOperatorRunsASweepFromTheBrowserAndReadsEveryPage) {
  std::unique_ptr<Chromium> browser = Browser(1280, 900);
  ASSERT_NE(browser, nullptr);
  // Nobody gets the sign-in page, never data.
  ASSERT_THAT(browser->Navigate(base_ + "/fleet"), IsOk());
  ASSERT_THAT(browser->WaitFor("location.pathname == '/signin'", absl::Seconds(10)), IsOk());
  EXPECT_EQ(browser->Evaluate("document.body.innerText.includes('host-a')").value_or(""), "false");
  Photograph(*browser, "signin");
  SignIn(*browser, "/sweeps");

  // A sweep started from the form; its page follows it live.
  ASSERT_THAT(
      browser->Evaluate("const f = document.getElementById('start-sweep');"
                        "f.devices.value = 'host-a'; f.plan.value = 'capability,native';"
                        "f.workloads.value = 'crypto'; f.repetitions.value = '1'; f.submit(); 1"),
      IsOk());
  ASSERT_THAT(browser->WaitFor("location.pathname.startsWith('/sweeps/sweep-') && "
                               "document.readyState == 'complete'",
                               absl::Seconds(10)),
              IsOk());
  const std::string first_state = Text(*browser, "#sweep-state");
  EXPECT_TRUE(first_state == "queued" || first_state == "running") << first_state;
  ASSERT_THAT(browser->Evaluate("window.kvmfarmSamePage = 'yes'"), IsOk());
  ASSERT_THAT(browser->WaitFor("document.querySelector('[data-live-sweep]').dataset.finished == "
                               "'true'",
                               absl::Seconds(180)),
              IsOk())
      << Farmctl({"sweep", "list"});
  EXPECT_EQ(browser->Evaluate("window.kvmfarmSamePage").value_or(""), "yes");  // no reload
  EXPECT_EQ(Text(*browser, "#sweep-state"), "succeeded");
  EXPECT_THAT(Text(*browser, "#bar-overall em"), StartsWith("2 / 2"));
  EXPECT_THAT(Text(*browser, "#bar-dev-host-a em"), StartsWith("2 / 2"));
  EXPECT_EQ(browser->Evaluate("document.getElementById('cancel-form') === null").value_or(""),
            "true");
  Photograph(*browser, "sweep");
  const std::string sweep_path = browser->Evaluate("location.pathname").value_or("");
  const std::string sweep_id(absl::StripPrefix(sweep_path, "/sweeps/"));

  // The matrix: the same rows GetMatrix returns.
  farm::v1::GetMatrixResponse matrix;
  const std::string json = Farmctl({"matrix", "--format=json"});
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &matrix).ok()) << json;
  ASSERT_EQ(matrix.rows_size(), 1);
  const std::string verdict = absl::AsciiStrToLower(
      std::string(absl::StripPrefix(farm::v1::Verdict_Name(matrix.rows(0).verdict()), "VERDICT_")));
  ASSERT_THAT(browser->Navigate(base_ + "/matrix"), IsOk());
  EXPECT_EQ(browser->Evaluate("document.querySelectorAll('#matrix tr').length - 1").value_or(""),
            std::to_string(std::max(1, matrix.rows(0).cells_size())));
  for (const farm::v1::MatrixCell& cell : matrix.rows(0).cells()) {
    EXPECT_EQ(browser
                  ->Evaluate(absl::StrCat("[...document.querySelectorAll('#matrix td')].some("
                                          "td => td.textContent == ",
                                          JsString(cell.metric()), ")"))
                  .value_or(""),
              "true")
        << cell.metric();
  }
  Photograph(*browser, "matrix");

  // The fleet and the device: the verdict the API gives.
  ASSERT_THAT(browser->Navigate(base_ + "/fleet"), IsOk());
  EXPECT_EQ(Text(*browser, "#devices a[href=\"/devices/host-a\"]"), "host-a");
  EXPECT_EQ(browser
                ->Evaluate("document.querySelector(\"#devices a[href='/devices/host-a']\")"
                           ".closest('tr').querySelector('.badge').textContent")
                .value_or(""),
            verdict);
  EXPECT_EQ(Text(*browser, "#leader"), "c1");
  Photograph(*browser, "fleet");
  ASSERT_THAT(browser->Navigate(base_ + "/devices/host-a"), IsOk());
  EXPECT_EQ(Text(*browser, "#verdict .badge"), verdict);
  EXPECT_EQ(
      browser->Evaluate("document.querySelectorAll('#row-charts svg').length > 0").value_or(""),
      "true");
  EXPECT_EQ(browser->Evaluate("document.querySelectorAll('#charts svg').length > 0").value_or(""),
            "true");
  EXPECT_THAT(Text(*browser, "#history"), HasSubstr(sweep_id));
  Photograph(*browser, "device");

  // The sweeps, a task's logs, and the sweep compared with itself.
  ASSERT_THAT(browser->Navigate(base_ + "/sweeps"), IsOk());
  EXPECT_THAT(Text(*browser, "#sweeps"), HasSubstr(sweep_id));
  EXPECT_THAT(Text(*browser, "#sweeps"), HasSubstr("otto (token)"));
  Photograph(*browser, "sweeps");
  ASSERT_THAT(browser->Navigate(base_ + sweep_path), IsOk());
  ASSERT_THAT(browser->Evaluate("document.querySelector(\"#tasks a[href$='/logs']\").click(); 1"),
              IsOk());
  ASSERT_THAT(browser->WaitFor("location.pathname.startsWith('/tasks/') && "
                               "document.querySelectorAll('.attempt').length > 0",
                               absl::Seconds(10)),
              IsOk());
  Photograph(*browser, "task-logs");
  ASSERT_THAT(browser->Navigate(absl::StrCat(base_, "/compare?a=", sweep_id, "&b=", sweep_id)),
              IsOk());
  EXPECT_EQ(
      browser->Evaluate("document.querySelectorAll('#comparison tr').length > 1").value_or(""),
      "true");
  Photograph(*browser, "compare");
  EXPECT_THAT(browser->PageErrors(), ::testing::IsEmpty());
}

TEST_F(DashboardBrowserTest, ThePagesFitAPhone) {
  std::unique_ptr<Chromium> phone = Browser(390, 844);
  ASSERT_NE(phone, nullptr);
  SignIn(*phone, "/fleet");
  // Nothing wider than the screen but the tables, which scroll in their own box.
  EXPECT_EQ(phone->Evaluate("document.documentElement.scrollWidth <= 390").value_or(""), "true");
  Photograph(*phone, "fleet-phone");
  ASSERT_THAT(phone->Navigate(base_ + "/devices/host-a"), IsOk());
  EXPECT_EQ(phone->Evaluate("document.documentElement.scrollWidth <= 390").value_or(""), "true");
  Photograph(*phone, "device-phone");
}

}  // namespace
}  // namespace kvmfarm
