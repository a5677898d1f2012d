#include "controller/http/http_endpoint.h"

#include <httplib.h>

#include <memory>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::http {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

class HttpEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth::Authorizer::Options insecure;
    insecure.insecure = true;
    absl::StatusOr<std::unique_ptr<auth::Authorizer>> authorizer =
        auth::Authorizer::Create(insecure);
    ASSERT_THAT(authorizer, IsOk());
    authorizer_ = *std::move(authorizer);
  }

  HttpEndpointOptions Options(const std::string& listen) {
    HttpEndpointOptions options;
    options.listen = listen;
    options.authorizer = authorizer_.get();
    options.metrics = [this]() -> absl::StatusOr<std::string> { return metrics_; };
    options.ready = [this] { return ready_; };
    return options;
  }

  std::unique_ptr<auth::Authorizer> authorizer_;
  absl::StatusOr<std::string> metrics_ = std::string("kvmfarm_up 1\n");
  absl::Status ready_;
};

TEST_F(HttpEndpointTest, ABadAddressOrPlaintextOffLoopbackIsRefusedSayingWhy) {
  EXPECT_THAT(HttpEndpoint::Start(Options("nonsense")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not host:port")));
  EXPECT_THAT(HttpEndpoint::Start(Options("10.1.2.3:7480")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("loopback only")));
}

TEST_F(HttpEndpointTest, ReadinessAndMetricsSayWhyTheStoreDidNotAnswer) {
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      HttpEndpoint::Start(Options("127.0.0.1:0"));
  ASSERT_THAT(endpoint, IsOk());
  EXPECT_THAT((*endpoint)->url(), HasSubstr("http://127.0.0.1:"));
  httplib::Client client((*endpoint)->url());
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->body, "kvmfarm_up 1\n");
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));

  ready_ = absl::UnavailableError("connection refused");
  metrics_ = absl::UnavailableError("the database didn't answer");
  httplib::Result ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr("the database doesn't answer: connection refused"));
  metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 503);
  httplib::Result health = client.Get("/healthz");  // alive all the same
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  (*endpoint)->Shutdown();
  EXPECT_FALSE(client.Get("/healthz"));  // nothing left listening
}

}  // namespace
}  // namespace kvmfarm::http
