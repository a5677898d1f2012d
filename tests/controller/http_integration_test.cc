// farm-controller's HTTP side end to end (issue 19): a real controller with the
// lab's certificates and a real agent; /healthz and /readyz open, /metrics for
// viewers only, bad requests answered 4xx while it keeps serving, and a real
// Prometheus server scraping it over HTTPS with a bearer token.
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "common/testing/run_binary.h"
#include "common/testing/server_process.h"
#include "common/testing/test_paths.h"
#include "common/testing/wait_for.h"
#include "common/tls/testing/test_lab.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::Runfile;
using ::kvmfarm::testing::ServerProcess;
using ::kvmfarm::testing::TestLab;
using ::kvmfarm::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::Not;

// A port free a moment ago, for a server that can't be given port 0 (Prometheus).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

class HttpIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab_ = std::make_unique<TestLab>(kvmfarm::testing::FreshTestDir("-lab"));
    viewer_token_ = lab_->Token("grafana", "viewer");
    std::vector<std::string> args = {"--db", kvmfarm::testing::FreshTestPath(".db"),
                                     "--heartbeat-interval=1s", "--http_listen=127.0.0.1:0"};
    for (const std::string& flag : lab_->ControllerFlags()) args.push_back(flag);
    controller_ = std::make_unique<ServerProcess>(Runfile("controller/farm-controller"),
                                                  "farm-controller", args);
    const std::string address = controller_->WaitUntilListening();
    ASSERT_FALSE(address.empty());
    http_port_ = controller_->HttpPort();
    ASSERT_GT(http_port_, 0) << controller_->Log();
    agent_ = std::make_unique<ServerProcess>(
        Runfile("agent/farm-agent"), "farm-agent",
        testing::Concat({"--controller", address, "--background-boot-check=false",
                         absl::StrCat("--work-dir=", std::getenv("TEST_TMPDIR"))},
                        lab_->AgentFlags("host-a")));
    ASSERT_FALSE(agent_->WaitUntilListening().empty());
  }

  // A client that trusts the lab's CA (the controller's certificate names
  // 127.0.0.1), with `identity`'s certificate when given.
  std::unique_ptr<httplib::SSLClient> Client(const std::optional<TlsFiles>& identity = {}) {
    auto client = identity ? std::make_unique<httplib::SSLClient>("127.0.0.1", http_port_,
                                                                  identity->cert, identity->key)
                           : std::make_unique<httplib::SSLClient>("127.0.0.1", http_port_);
    client->set_ca_cert_path(lab_->Controller().ca);
    client->enable_server_certificate_verification(true);
    client->set_connection_timeout(std::chrono::seconds(10));
    return client;
  }

  std::unique_ptr<TestLab> lab_;
  std::string viewer_token_;
  std::unique_ptr<ServerProcess> controller_;
  std::unique_ptr<ServerProcess> agent_;
  int http_port_ = 0;
};

TEST_F(HttpIntegrationTest, HealthIsOpenMetricsAreForViewersAndBadRequestsAre4xx) {
  auto anonymous = Client();
  httplib::Result health = anonymous->Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  httplib::Result ready = anonymous->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "ready\n");

  // No identity: 401, and no data.
  httplib::Result bare = anonymous->Get("/metrics");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->status, 401);
  EXPECT_EQ(bare->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_THAT(bare->body, Not(HasSubstr("kvmfarm_")));
  auto stranger = Client();
  stranger->set_bearer_token_auth("not-a-granted-token");
  httplib::Result refused = stranger->Get("/metrics");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  // A device's certificate is an identity, but not a viewer: 403.
  httplib::Result device = Client(lab_->Device("host-a"))->Get("/metrics");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->status, 403);
  EXPECT_THAT(device->body, HasSubstr("needs the viewer role"));

  // A viewer's token: the fleet as it is, once the agent has registered.
  auto viewer = Client();
  viewer->set_bearer_token_auth(viewer_token_);
  std::string body;
  EXPECT_TRUE(WaitFor([&] {
    httplib::Result metrics = viewer->Get("/metrics");
    if (!metrics || metrics->status != 200) return false;
    body = metrics->body;
    return absl::StrContains(body, "kvmfarm_devices_by_operational_state{state=\"idle\"} 1");
  })) << body;
  EXPECT_THAT(body, HasSubstr("kvmfarm_controller_leader{replica=\"c1\"} 1"));
  EXPECT_THAT(body, HasSubstr("kvmfarm_heartbeats_received_total"));

  // Bad requests: a clear 4xx each, and the controller keeps serving.
  httplib::Result traversal = viewer->Get("/devices/../../etc/passwd");
  ASSERT_TRUE(traversal);
  EXPECT_EQ(traversal->status, 400);
  EXPECT_THAT(traversal->body, HasSubstr("is not a device id"));
  httplib::Result unknown = viewer->Get("/etc/passwd");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_THAT(unknown->body, HasSubstr("/healthz, /readyz and /metrics"));
  httplib::Result huge = viewer->Get("/metrics?q=" + std::string(20000, 'x'));
  ASSERT_TRUE(huge);
  EXPECT_GE(huge->status, 400);
  EXPECT_LT(huge->status, 500);
  httplib::Result post = viewer->Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_GE(post->status, 400);
  EXPECT_LT(post->status, 500);
  httplib::Result still = anonymous->Get("/healthz");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);
}

// An operator's certificate opens the dashboard without signing in, with its role;
// a device's certificate does not, and nobody is sent to the sign-in page.
TEST_F(HttpIntegrationTest, TheDashboardKnowsAnOperatorByCertificate) {
  const TlsFiles alice = lab_->Operator("alice");
  std::ofstream(lab_->access_file(), std::ios::app) << "certificate alice operator\n";
  auto browser = Client(alice);
  httplib::Result sweeps = browser->Get("/sweeps");
  ASSERT_TRUE(sweeps) << httplib::to_string(sweeps.error());
  EXPECT_EQ(sweeps->status, 200);
  EXPECT_THAT(sweeps->body, HasSubstr("alice (certificate), operator"));
  EXPECT_THAT(sweeps->body, HasSubstr("id=\"start-sweep\""));
  httplib::Result device = Client(lab_->Device("host-a"))->Get("/fleet");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->status, 403);
  httplib::Result nobody = Client()->Get("/fleet");
  ASSERT_TRUE(nobody);
  EXPECT_EQ(nobody->status, 303);
  EXPECT_EQ(nobody->get_header_value("Location"), "/signin?next=/fleet");
}

// Prometheus as a lab runs it: HTTPS against the lab's CA, the viewer's token from
// a file, and a query answered from what it scraped.
TEST_F(HttpIntegrationTest, ARealPrometheusScrapesTheControllerAndAnswersAQuery) {
  const std::string dir = kvmfarm::testing::FreshTestDir("-prometheus");
  const std::string token_file = dir + "/token";
  std::ofstream(token_file) << viewer_token_;
  const std::string config = dir + "/prometheus.yml";
  std::ofstream(config) << "global: {scrape_interval: 1s}\n"
                        << "scrape_configs:\n"
                        << "  - job_name: kvmfarm\n"
                        << "    scheme: https\n"
                        << "    authorization: {credentials_file: " << token_file << "}\n"
                        << "    tls_config: {ca_file: " << lab_->Controller().ca << "}\n"
                        << "    static_configs: [{targets: ['127.0.0.1:" << http_port_ << "']}]\n";
  const int port = FreePort();
  ProcessSpec spec;
  spec.argv = {"prometheus", "--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
               absl::StrCat("--web.listen-address=127.0.0.1:", port)};
  absl::StatusOr<std::unique_ptr<Subprocess>> prometheus = Subprocess::Start(spec);
  ASSERT_TRUE(prometheus.ok()) << prometheus.status() << " (tools/setup.sh installs prometheus)";
  httplib::Client api("127.0.0.1", port);
  std::string answer;
  const bool answered = WaitFor(
      [&] {
        httplib::Result result =
            api.Get("/api/v1/query?query=" +
                    httplib::detail::encode_query_param(
                        "kvmfarm_devices_by_operational_state{job=\"kvmfarm\",state=\"idle\"}"));
        if (!result || result->status != 200) return false;
        answer = result->body;
        // One series, whose [time, "value"] is [..., "1"].
        const size_t value = answer.find("\"value\":[");
        return value != std::string::npos && answer.find(",\"1\"]", value) != std::string::npos;
      },
      absl::Seconds(60));
  (*prometheus)->Kill();
  const ProcessResult ended = (*prometheus)->Wait();
  EXPECT_TRUE(answered) << answer << "\n" << ended.stderr_data.substr(0, 4000);
}

}  // namespace
}  // namespace kvmfarm
