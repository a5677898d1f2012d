// -----------------------------------------------------------------------------
// File: webhook.h
// -----------------------------------------------------------------------------
//
// The lab's webhook (farm-controller --webhook_url): a regression opened or fixed
// and a device quarantined are POSTed to it as JSON (issue 20). Never in the way of
// the scheduler: Post() queues and returns at once, one thread delivers, in order;
// a failure (no answer, a 5xx, 408 or 429) is retried with exponential backoff
// (common/backoff.h) up to `max_attempts`; another 4xx means the receiver refuses
// the body and is not retried. A full queue drops its oldest event (logged). With
// a secret, each body is signed: "X-Kvmfarm-Signature: sha256=<hex HMAC-SHA256 of
// the body>", as GitHub signs its webhooks, so the receiver can tell it is ours.
//
// The body: {"event": "regression_opened", "sent_at": "2026-11-30T22:00:00Z",
// "controller": "ctl-a", "regression": {...}} (or "device": {...}), the subject as
// the API's JSON (proto field names, enums by name).
//
// Example:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Webhook> hook, Webhook::Start(options));
//   hook->Post(RegressionEvent("regression_opened", regression, "ctl-a"));
#ifndef KVMFARM_CONTROLLER_NOTIFICATIONS_WEBHOOK_H_
#define KVMFARM_CONTROLLER_NOTIFICATIONS_WEBHOOK_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::notifications {

struct WebhookOptions {
  // http://host[:port]/path or https://host[:port]/path.
  std::string url;
  // Signs each body when set.
  std::string secret;
  // For https: the CA that signed the receiver's certificate (the system's when
  // empty).
  std::string ca_file;
  absl::Duration timeout = absl::Seconds(10);
  int max_attempts = 8;
  absl::Duration first_retry = absl::Seconds(1);
  absl::Duration max_retry = absl::Minutes(2);
  size_t max_queued = 1000;
};

// One event to send: its name (for logs) and its JSON body.
struct WebhookEvent {
  std::string name;
  std::string body;
};

// The events the controller sends. A regression's `event` is named by the tracker
// (regressions::EventName: "regression_opened", "verdict_regression_fixed", ...).
WebhookEvent RegressionEvent(const std::string& event, const farm::v1::Regression& regression,
                             const std::string& controller);
WebhookEvent QuarantineEvent(const farm::v1::Device& device, const std::string& controller);

class Webhook {
 public:
  // INVALID_ARGUMENT naming --webhook_url for a URL that is not http(s)://host/...
  static absl::StatusOr<std::unique_ptr<Webhook>> Start(WebhookOptions options);
  // Stops: a delivery under way ends its attempt; what is still queued is logged
  // as not sent.
  ~Webhook();

  void Post(WebhookEvent event);

  // Since start: delivered (a 2xx), given up on, dropped from a full queue.
  int64_t delivered() const { return delivered_.load(); }
  int64_t failed() const { return failed_.load(); }
  int64_t dropped() const { return dropped_.load(); }

 private:
  Webhook(WebhookOptions options, std::string origin, std::string path);
  void Run();
  // Delivers `event`, retrying; false when given up on (or stopping).
  bool Deliver(const WebhookEvent& event);
  // One POST: OK, UNAVAILABLE (worth retrying) or another error (not).
  absl::Status Send(const WebhookEvent& event);

  const WebhookOptions options_;
  const std::string origin_;  // scheme://host:port
  const std::string path_;
  absl::Mutex mu_;
  std::deque<WebhookEvent> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> dropped_{0};
  std::thread thread_;
};

}  // namespace kvmfarm::notifications

#endif  // KVMFARM_CONTROLLER_NOTIFICATIONS_WEBHOOK_H_
