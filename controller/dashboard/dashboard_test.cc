// The dashboard in process: a real HTTP endpoint on loopback over a SQLite store,
// the fleet and the scheduler with fake agents, and an access file with a viewer,
// an operator and an admin token. Pages are fetched with cpp-httplib's client, as
// a browser would: sign in, follow the cookie, post forms. (The real browser's
// test is tests/controller:dashboard_browser_test.)
#include "controller/dashboard/dashboard.h"

#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "controller/auth/access_file.h"
#include "controller/http/http_endpoint.h"
#include "controller/testing/in_process_controller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::dashboard {
namespace {

using ::kvmfarm::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kViewerToken[] = "viewer-token-0123456789";
constexpr char kOperatorToken[] = "operator-token-0123456789";
constexpr char kAdminToken[] = "admin-token-0123456789";

class DashboardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ =
        std::make_unique<ControllerApi>(controller_.fleet.get(), controller_.store.get(),
                                        controller_.scheduler.get(), controller_.summaries.get());
    access_file_ = std::string(std::getenv("TEST_TMPDIR")) + "/access";
    WriteAccessFile({{"vera", "viewer", kViewerToken},
                     {"otto", "operator", kOperatorToken},
                     {"ada", "admin", kAdminToken}});
    auth::Authorizer::Options auth_options;
    auth_options.lab = "testlab";
    auth_options.access_file = access_file_;
    auth_options.reload_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<auth::Authorizer>> authorizer =
        auth::Authorizer::Create(auth_options);
    ASSERT_THAT(authorizer, IsOk());
    authorizer_ = *std::move(authorizer);
    dashboard_ = std::make_unique<Dashboard>(
        DashboardOptions{api_.get(), authorizer_.get(), /*secure=*/false, "c1"},
        SessionKeys::Random());
    http::HttpEndpointOptions http;
    http.listen = "127.0.0.1:0";
    http.authorizer = authorizer_.get();
    http.metrics = []() -> absl::StatusOr<std::string> { return std::string("up 1\n"); };
    http.ready = [] { return absl::OkStatus(); };
    http.routes = [this](httplib::Server& server) { dashboard_->AddRoutes(server); };
    absl::StatusOr<std::unique_ptr<http::HttpEndpoint>> endpoint =
        http::HttpEndpoint::Start(std::move(http));
    ASSERT_THAT(endpoint, IsOk());
    endpoint_ = *std::move(endpoint);
    Register("d0");
  }

  void TearDown() override { endpoint_->Shutdown(); }

  struct Grant {
    std::string name, role, token;
  };
  void WriteAccessFile(const std::vector<Grant>& grants) {
    std::ofstream out(access_file_);
    for (const Grant& g : grants) {
      out << "token " << g.name << " " << g.role << " sha256:" << auth::TokenHash(g.token) << "\n";
    }
  }

  void Register(const std::string& id) {
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(id);
    request.mutable_identity()->set_model("pixel8 <b>pro</b>");
    request.mutable_capability()->set_verdict(farm::v1::VERDICT_KVM_READY);
    request.set_agent_address(id + ":7420");
    ASSERT_THAT(controller_.fleet->Register(request), IsOk());
  }

  std::unique_ptr<httplib::Client> Client() {
    auto client = std::make_unique<httplib::Client>(endpoint_->url());
    client->set_follow_location(false);
    return client;
  }

  // Signs in with `token`: the session cookie ("kvmfarm_session=...").
  std::string SignIn(const std::string& token) {
    httplib::Result result =
        Client()->Post("/signin", httplib::Params{{"token", token}, {"next", "/sweeps"}});
    EXPECT_TRUE(result);
    if (!result) return "";
    EXPECT_EQ(result->status, 303);
    EXPECT_EQ(result->get_header_value("Location"), "/sweeps");
    const std::string set = result->get_header_value("Set-Cookie");
    EXPECT_THAT(set, HasSubstr("HttpOnly"));
    EXPECT_THAT(set, HasSubstr("SameSite=Strict"));
    return set.substr(0, set.find(';'));
  }

  httplib::Result Get(const std::string& cookie, const std::string& path) {
    return Client()->Get(path, httplib::Headers{{"Cookie", cookie}});
  }

  // The CSRF token in a page's forms.
  static std::string Csrf(const std::string& page) {
    const std::string marker = "name=\"csrf\" value=\"";
    const size_t at = page.find(marker);
    if (at == std::string::npos) return "";
    const size_t start = at + marker.size();
    return page.substr(start, page.find('"', start) - start);
  }

  httplib::Result Post(const std::string& cookie, const std::string& path, httplib::Params form,
                       httplib::Headers headers = {}) {
    headers.emplace("Cookie", cookie);
    return Client()->Post(path, headers, form);
  }

  kvmfarm::testing::InProcessController controller_;
  std::unique_ptr<ControllerApi> api_;
  std::string access_file_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<http::HttpEndpoint> endpoint_;
};

TEST_F(DashboardTest, NobodyGetsTheSignInPageNeverData) {
  for (const std::string path : {"/fleet", "/devices/d0", "/sweeps", "/matrix", "/compare"}) {
    httplib::Result page = Client()->Get(path);
    ASSERT_TRUE(page) << path;
    EXPECT_EQ(page->status, 303) << path;
    // (cpp-httplib's client hands the Location back decoded.)
    EXPECT_EQ(page->get_header_value("Location"), "/signin?next=" + path);
    EXPECT_EQ(page->body, "");
  }
  for (const std::string path : {"/matrix.csv", "/matrix.json", "/sweeps/x/progress.json"}) {
    httplib::Result data = Client()->Get(path);
    ASSERT_TRUE(data) << path;
    EXPECT_EQ(data->status, 401) << path;
    EXPECT_THAT(data->body, Not(HasSubstr("d0")));
  }
  httplib::Result signin = Client()->Get("/signin?next=%2Ffleet");
  ASSERT_TRUE(signin);
  EXPECT_EQ(signin->status, 200);
  EXPECT_THAT(signin->body, HasSubstr("name=\"token\""));
  // Open: the stylesheet and the script hold no data.
  EXPECT_EQ(Client()->Get("/static/dashboard.css")->status, 200);
  EXPECT_EQ(Client()->Get("/static/live.js")->status, 200);
}

TEST_F(DashboardTest, AWrongTokenIsRefusedOnTheSignInPage) {
  httplib::Result result =
      Client()->Post("/signin", httplib::Params{{"token", "nope"}, {"next", "/fleet"}});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 401);
  EXPECT_THAT(result->body, HasSubstr("not granted"));
  EXPECT_FALSE(result->has_header("Set-Cookie"));
  // A forged or foreign cookie is no session either.
  httplib::Result forged = Get("kvmfarm_session=v1.abc.99999999999.00.ff", "/fleet");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 303);
}

TEST_F(DashboardTest, AViewerReadsEveryPageAndEscapesWhatDevicesReport) {
  const std::string cookie = SignIn(kViewerToken);
  httplib::Result fleet = Get(cookie, "/fleet");
  ASSERT_TRUE(fleet);
  EXPECT_EQ(fleet->status, 200);
  EXPECT_THAT(fleet->body, HasSubstr("href=\"/devices/d0\""));
  EXPECT_THAT(fleet->body, HasSubstr("v-kvm_ready"));
  EXPECT_THAT(fleet->body, HasSubstr("pixel8 &lt;b&gt;pro&lt;/b&gt;"));
  EXPECT_THAT(fleet->body, Not(HasSubstr("<b>pro</b>")));
  EXPECT_THAT(fleet->body, HasSubstr("vera (token), viewer"));
  EXPECT_EQ(fleet->get_header_value("Cache-Control"), "no-store");
  EXPECT_THAT(fleet->get_header_value("Content-Security-Policy"), HasSubstr("default-src 'self'"));
  httplib::Result device = Get(cookie, "/devices/d0");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->status, 200);
  EXPECT_THAT(device->body, HasSubstr("id=\"history\""));
  // No admin form for a viewer; no start-sweep form either.
  EXPECT_THAT(device->body, Not(HasSubstr("/devices/d0/state")));
  httplib::Result sweeps = Get(cookie, "/sweeps");
  ASSERT_TRUE(sweeps);
  EXPECT_THAT(sweeps->body, Not(HasSubstr("id=\"start-sweep\"")));
  for (const std::string path : {"/matrix", "/matrix?group_by=model", "/compare", "/matrix.csv"}) {
    httplib::Result page = Get(cookie, path);
    ASSERT_TRUE(page) << path;
    EXPECT_EQ(page->status, 200) << path;
  }
  // A viewer may not start a sweep even with the form's CSRF token.
  httplib::Result start =
      Post(cookie, "/sweeps", {{"csrf", Csrf(fleet->body)}, {"devices", "d0"}, {"plan", "native"}});
  ASSERT_TRUE(start);
  EXPECT_EQ(start->status, 403);
  EXPECT_THAT(start->body, HasSubstr("operator"));
}

TEST_F(DashboardTest, AnOperatorStartsAndCancelsASweepWithTheFormsToken) {
  const std::string cookie = SignIn(kOperatorToken);
  httplib::Result sweeps = Get(cookie, "/sweeps");
  ASSERT_TRUE(sweeps);
  ASSERT_THAT(sweeps->body, HasSubstr("id=\"start-sweep\""));
  const std::string csrf = Csrf(sweeps->body);
  ASSERT_FALSE(csrf.empty());
  // Without the token, with another's, or from another site: refused, nothing started.
  for (const auto& [form, headers] : std::vector<std::pair<httplib::Params, httplib::Headers>>{
           {{{"devices", "d0"}}, {}},
           {{{"devices", "d0"}, {"csrf", std::string(64, 'a')}}, {}},
           {{{"devices", "d0"}, {"csrf", csrf}}, {{"Origin", "https://evil.example"}}},
           {{{"devices", "d0"}, {"csrf", csrf}}, {{"Sec-Fetch-Site", "cross-site"}}}}) {
    httplib::Result refused = Post(cookie, "/sweeps", form, headers);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403);
  }
  EXPECT_EQ(api_->ListSweeps({})->sweeps_size(), 0);
  // A bad field is named.
  httplib::Result bad =
      Post(cookie, "/sweeps", {{"csrf", csrf}, {"devices", "d0"}, {"plan", "capability,warp"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("warp"));
  httplib::Result started =
      Post(cookie, "/sweeps",
           {{"csrf", csrf}, {"devices", "d0"}, {"plan", "capability"}, {"repetitions", "1"}});
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 303) << started->body;
  const std::string location = started->get_header_value("Location");
  ASSERT_THAT(location, HasSubstr("/sweeps/"));
  farm::v1::ListSweepsResponse listed = *api_->ListSweeps({});
  ASSERT_EQ(listed.sweeps_size(), 1);
  EXPECT_EQ(listed.sweeps(0).started_by(), "otto (token)");
  httplib::Result page = Get(cookie, location);
  ASSERT_TRUE(page);
  EXPECT_THAT(page->body, HasSubstr("data-live-sweep"));
  EXPECT_THAT(page->body, HasSubstr("id=\"cancel-form\""));
  httplib::Result progress = Get(cookie, location + "/progress.json");
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->get_header_value("Content-Type"), "application/json");
  EXPECT_THAT(progress->body, HasSubstr("\"finished\":false"));
  httplib::Result cancelled =
      Post(cookie, location + "/cancel", {{"csrf", Csrf(page->body)}, {"reason", "wrong plan"}});
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->status, 303) << cancelled->body;
  absl::StatusOr<farm::v1::Sweep> sweep = api_->GetSweep(listed.sweeps(0).sweep_id(), false);
  ASSERT_THAT(sweep, IsOk());
  EXPECT_EQ(sweep->state(), farm::v1::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(sweep->cancelled_by(), "otto (token)");
}

TEST_F(DashboardTest, OnlyAnAdminChangesADevicesState) {
  const std::string operator_cookie = SignIn(kOperatorToken);
  const std::string operator_csrf = Csrf(Get(operator_cookie, "/fleet")->body);
  httplib::Result refused =
      Post(operator_cookie, "/devices/d0/state",
           {{"csrf", operator_csrf}, {"health", "maintenance"}, {"reason", "x"}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  const std::string cookie = SignIn(kAdminToken);
  httplib::Result device = Get(cookie, "/devices/d0");
  ASSERT_TRUE(device);
  ASSERT_THAT(device->body, HasSubstr("action=\"/devices/d0/state\""));
  const std::string csrf = Csrf(device->body);
  // The operator's token is bound to the operator's session, not the admin's.
  EXPECT_EQ(Post(cookie, "/devices/d0/state",
                 {{"csrf", operator_csrf}, {"health", "maintenance"}, {"reason", "x"}})
                ->status,
            403);
  httplib::Result bad =
      Post(cookie, "/devices/d0/state", {{"csrf", csrf}, {"health", "broken"}, {"reason", "x"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("health &#39;broken&#39;"));
  httplib::Result set =
      Post(cookie, "/devices/d0/state",
           {{"csrf", csrf}, {"health", "maintenance"}, {"reason", "new battery"}});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->status, 303) << set->body;
  EXPECT_EQ(controller_.fleet->Get("d0")->state().health(), farm::v1::HEALTH_STATE_MAINTENANCE);
}

TEST_F(DashboardTest, RemovingTheGrantEndsTheSession) {
  const std::string cookie = SignIn(kViewerToken);
  EXPECT_EQ(Get(cookie, "/fleet")->status, 200);
  WriteAccessFile({{"otto", "operator", kOperatorToken}});
  httplib::Result after = Get(cookie, "/fleet");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 303);
  EXPECT_THAT(after->get_header_value("Location"), HasSubstr("/signin"));
}

TEST_F(DashboardTest, BadInputIsA4xxNamingItAndTheControllerKeepsServing) {
  const std::string cookie = SignIn(kViewerToken);
  struct Case {
    std::string path;
    int status;
    std::string says;
  };
  for (const Case& c :
       std::vector<Case>{{"/devices/nobody", 404, "no device &#39;nobody&#39;"},
                         {"/devices/..%2F..%2Fetc%2Fpasswd", 400, "is not a device id"},
                         {"/devices/a%00b", 400, "is not a device id"},
                         {"/sweeps/..%2Fsecrets", 400, "is not a sweep id"},
                         {"/sweeps/no-such-sweep", 404, "no-such-sweep"},
                         {"/tasks/..%2F..%2Fetc/logs", 400, "is not a task id"},
                         {"/fleet?selector=novalue", 400, "is not key=value"},
                         {"/matrix?group_by=planet", 400, "group_by &#39;planet&#39;"},
                         {"/matrix?page_token=forged", 400, "page_token"},
                         {"/compare?a=x&b=y", 404, "x"},
                         {"/compare?a=x", 400, "give both a and b"},
                         {"/fleet?page_token=forged", 400, "page_token"},
                         {"/" + std::string(20000, 'a'), 414, "414"}}) {
    httplib::Result page = Get(cookie, c.path);
    ASSERT_TRUE(page) << c.path;
    EXPECT_EQ(page->status, c.status) << c.path << ": " << page->body.substr(0, 300);
    EXPECT_THAT(page->body, HasSubstr(c.says)) << c.path;
  }
  EXPECT_EQ(Get(cookie, "/fleet")->status, 200);
  EXPECT_EQ(Client()->Get("/healthz")->status, 200);
}

TEST_F(DashboardTest, SigningInGoesOnlyToAPageOfThisSite) {
  for (const std::string next : {"//evil.example", "/\t/evil.example", "https://evil.example",
                                 "/\\evil.example", "javascript:alert(1)", "/ /evil"}) {
    httplib::Result result =
        Client()->Post("/signin", httplib::Params{{"token", kViewerToken}, {"next", next}});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 303);
    EXPECT_EQ(result->get_header_value("Location"), "/fleet") << next;
  }
  // A sign-in posted from another site is refused like a forged form.
  httplib::Result foreign =
      Client()->Post("/signin", httplib::Headers{{"Origin", "https://evil.example"}},
                     httplib::Params{{"token", kViewerToken}, {"next", "/fleet"}});
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  EXPECT_FALSE(foreign->has_header("Set-Cookie"));
}

TEST_F(DashboardTest, AFormFromAnOpaqueOrSiblingOriginIsRefused) {
  const std::string cookie = SignIn(kOperatorToken);
  const std::string csrf = Csrf(Get(cookie, "/sweeps")->body);
  for (const httplib::Headers& headers :
       std::vector<httplib::Headers>{{{"Origin", "null"}},
                                     {{"Sec-Fetch-Site", "same-site"}},
                                     {{"Origin", "https://" + endpoint_->url().substr(7)}}}) {
    httplib::Result refused = Post(cookie, "/sweeps", {{"csrf", csrf}, {"devices", "d0"}}, headers);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403);
  }
  // From this dashboard itself (Origin = scheme://Host), it starts.
  httplib::Result started =
      Post(cookie, "/sweeps", {{"csrf", csrf}, {"devices", "d0"}, {"plan", "capability"}},
           {{"Origin", endpoint_->url()}, {"Sec-Fetch-Site", "same-origin"}});
  ASSERT_TRUE(started);
  EXPECT_EQ(started->status, 303) << started->body;
}

TEST_F(DashboardTest, AScriptsBearerTokenWorksBesideAStaleCookie) {
  httplib::Result csv = Client()->Get(
      "/matrix.csv", httplib::Headers{{"Authorization", std::string("Bearer ") + kViewerToken},
                                      {"Cookie", "kvmfarm_session=v1.old.1.2.3"}});
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->status, 200);
  EXPECT_THAT(csv->body, HasSubstr("DEVICE,VERDICT"));
}

TEST_F(DashboardTest, ATooLargeFormSaysWhy) {
  const std::string cookie = SignIn(kOperatorToken);
  httplib::Result big = Post(cookie, "/sweeps", {{"devices", std::string(9000, 'd')}});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_THAT(big->body, HasSubstr("at most 8 KiB"));
}

// Plaintext loopback makes everyone an admin: only a loopback Host is served, so a
// page whose name was pointed at 127.0.0.1 (DNS rebinding) gets nothing.
TEST_F(DashboardTest, WithoutTlsOnlyALoopbackHostIsServed) {
  auth::Authorizer::Options anyone;
  anyone.insecure = true;
  std::unique_ptr<auth::Authorizer> insecure = *auth::Authorizer::Create(anyone);
  Dashboard open({api_.get(), insecure.get(), /*secure=*/false, "c1"}, SessionKeys::Random());
  http::HttpEndpointOptions options;
  options.listen = "127.0.0.1:0";
  options.authorizer = insecure.get();
  options.metrics = []() -> absl::StatusOr<std::string> { return std::string(); };
  options.ready = [] { return absl::OkStatus(); };
  options.routes = [&](httplib::Server& server) { open.AddRoutes(server); };
  absl::StatusOr<std::unique_ptr<http::HttpEndpoint>> endpoint =
      http::HttpEndpoint::Start(std::move(options));
  ASSERT_THAT(endpoint, IsOk());
  httplib::Client client((*endpoint)->url());
  EXPECT_EQ(client.Get("/fleet")->status, 200);
  for (const char* host : {"evil.example:80", "127.evil.example:80", "evil.example"}) {
    httplib::Result rebound = client.Get("/fleet", httplib::Headers{{"Host", host}});
    ASSERT_TRUE(rebound);
    EXPECT_EQ(rebound->status, 403) << host;
    EXPECT_THAT(rebound->body, HasSubstr("not this loopback dashboard"));
  }
  EXPECT_EQ(client.Get("/fleet", httplib::Headers{{"Host", "localhost"}})->status, 200);
  (*endpoint)->Shutdown();
}

}  // namespace
}  // namespace kvmfarm::dashboard
