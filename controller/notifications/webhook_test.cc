#include "controller/notifications/webhook.h"

#include <memory>

#include "common/testing/status_matchers.h"
#include "common/testing/wait_for.h"
#include "common/tls/hmac.h"
#include "controller/notifications/testing/webhook_receiver.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::notifications {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::kvmfarm::testing::WaitFor;
using ::testing::HasSubstr;
using ::testing::SizeIs;

WebhookOptions Fast(const std::string& url) {
  WebhookOptions options;
  options.url = url;
  options.timeout = absl::Seconds(5);
  options.first_retry = absl::Milliseconds(10);
  options.max_retry = absl::Milliseconds(40);
  options.max_attempts = 4;
  return options;
}

farm::v1::Regression Opened() {
  farm::v1::Regression r;
  r.set_regression_id("s2:pixel-1:crypto.sha256:native");
  r.set_kind(farm::v1::REGRESSION_KIND_PERFORMANCE);
  r.set_state(farm::v1::REGRESSION_STATE_OPEN);
  r.set_device_id("pixel-1");
  r.mutable_first_change()->set_change_percent(-20);
  return r;
}

TEST(WebhookTest, RetriesAFailingReceiverAndSignsTheBody) {
  testing::WebhookReceiver receiver({503, 503});
  WebhookOptions options = Fast(receiver.url());
  options.secret = "lab secret";
  auto hook = Webhook::Start(options);
  ASSERT_THAT(hook, IsOk());
  (*hook)->Post(RegressionEvent("regression_opened", Opened(), "ctl-a"));
  ASSERT_TRUE(WaitFor([&] { return (*hook)->delivered() == 1; }));
  const std::vector<testing::ReceivedRequest> requests = receiver.Requests();
  ASSERT_THAT(requests, SizeIs(3));  // two 503s, then delivered
  EXPECT_EQ(requests[2].path, "/hooks/kvmfarm");
  EXPECT_THAT(requests[2].body, HasSubstr("\"event\":\"regression_opened\""));
  EXPECT_THAT(requests[2].body, HasSubstr("\"controller\":\"ctl-a\""));
  EXPECT_THAT(requests[2].body, HasSubstr("\"device_id\":\"pixel-1\""));
  EXPECT_THAT(requests[2].body, HasSubstr("\"state\":\"REGRESSION_STATE_OPEN\""));
  EXPECT_EQ(requests[2].signature, "sha256=" + HmacSha256Hex("lab secret", requests[2].body));
  EXPECT_EQ((*hook)->failed(), 0);
}

TEST(WebhookTest, AReceiverThatRefusesTheBodyIsNotAskedAgain) {
  testing::WebhookReceiver receiver({400});
  auto hook = Webhook::Start(Fast(receiver.url()));
  ASSERT_THAT(hook, IsOk());
  (*hook)->Post(RegressionEvent("regression_opened", Opened(), "ctl-a"));
  ASSERT_TRUE(WaitFor([&] { return (*hook)->failed() == 1; }));
  EXPECT_THAT(receiver.Requests(), SizeIs(1));
  EXPECT_EQ(receiver.Requests()[0].signature, "");  // no secret, no signature
  // The next event is sent as usual.
  farm::v1::Device device;
  device.set_device_id("pixel-1");
  device.mutable_state()->set_health(farm::v1::HEALTH_STATE_QUARANTINED);
  (*hook)->Post(QuarantineEvent(device, "ctl-a"));
  ASSERT_TRUE(WaitFor([&] { return (*hook)->delivered() == 1; }));
  EXPECT_THAT(receiver.Requests()[1].body, HasSubstr("\"event\":\"device_quarantined\""));
}

TEST(WebhookTest, AnUnreachableReceiverIsRetriedThenGivenUpOn) {
  int port = 0;
  {
    testing::WebhookReceiver gone;  // a port nothing listens on once it stops
    port = gone.port();
  }
  auto hook = Webhook::Start(Fast("http://127.0.0.1:" + std::to_string(port) + "/x"));
  ASSERT_THAT(hook, IsOk());
  (*hook)->Post(RegressionEvent("regression_opened", Opened(), "ctl-a"));
  ASSERT_TRUE(WaitFor([&] { return (*hook)->failed() == 1; }));
  EXPECT_EQ((*hook)->delivered(), 0);
}

TEST(WebhookTest, RefusesAUrlThatIsNotHttp) {
  EXPECT_THAT(Webhook::Start(Fast("ftp://lab/hook")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--webhook_url")));
  EXPECT_THAT(Webhook::Start(Fast("http:///hook")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no host")));
}

TEST(WebhookTest, StoppingWithEventsQueuedReturnsAtOnce) {
  testing::WebhookReceiver receiver({503, 503, 503, 503});
  WebhookOptions options = Fast(receiver.url());
  options.first_retry = absl::Minutes(10);  // the first retry would wait long
  auto hook = Webhook::Start(options);
  ASSERT_THAT(hook, IsOk());
  (*hook)->Post(RegressionEvent("regression_opened", Opened(), "ctl-a"));
  (*hook)->Post(RegressionEvent("regression_opened", Opened(), "ctl-a"));
  ASSERT_TRUE(WaitFor([&] { return receiver.Requests().size() == 1; }));
  const absl::Time start = absl::Now();
  hook->reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace kvmfarm::notifications
