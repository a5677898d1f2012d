#include "controller/notifications/webhook.h"

#include <google/protobuf/util/json_util.h>
#include <httplib.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "common/tls/hmac.h"

namespace kvmfarm::notifications {
namespace {

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

// A JSON string literal of `text` (names and RFC 3339 times: no control bytes).
std::string Quoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) out.push_back(c);
  }
  return out + "\"";
}

WebhookEvent Event(std::string name, const std::string& controller, const char* subject,
                   const google::protobuf::Message& message) {
  std::string body = absl::StrCat(
      "{\"event\":", Quoted(name), ",\"sent_at\":",
      Quoted(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone())),
      ",\"controller\":", Quoted(controller), ",\"", subject, "\":", Json(message), "}");
  return {std::move(name), std::move(body)};
}

bool Retryable(int status) { return status >= 500 || status == 408 || status == 429; }

}  // namespace

WebhookEvent RegressionEvent(const std::string& event, const farm::v1::Regression& regression,
                             const std::string& controller) {
  return Event(event, controller, "regression", regression);
}

WebhookEvent QuarantineEvent(const farm::v1::Device& device, const std::string& controller) {
  farm::v1::Device brief;  // who and why, not the whole capability report
  brief.set_device_id(device.device_id());
  *brief.mutable_identity() = device.identity();
  *brief.mutable_state() = device.state();
  brief.set_agent_address(device.agent_address());
  return Event("device_quarantined", controller, "device", brief);
}

absl::StatusOr<std::unique_ptr<Webhook>> Webhook::Start(WebhookOptions options) {
  const std::string& url = options.url;
  const bool https = absl::StartsWith(url, "https://");
  if (!https && !absl::StartsWith(url, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--webhook_url '", url, "' must start with http:// or https://"));
  }
  const size_t host_start = url.find("//") + 2;
  const size_t path_start = url.find('/', host_start);
  const std::string origin = url.substr(0, path_start);
  if (origin.size() <= host_start) {
    return absl::InvalidArgumentError(absl::StrCat("--webhook_url '", url, "' names no host"));
  }
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("webhook max_attempts must be at least 1");
  }
  return std::unique_ptr<Webhook>(new Webhook(std::move(options), origin, path));
}

Webhook::Webhook(WebhookOptions options, std::string origin, std::string path)
    : options_(std::move(options)), origin_(std::move(origin)), path_(std::move(path)) {
  thread_ = std::thread([this] { Run(); });
}

Webhook::~Webhook() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (const WebhookEvent& event : queue_) {
      FARM_LOG(WARNING) << "webhook: " << event.name << " not sent: the controller is stopping";
    }
    queue_.clear();
  }
  thread_.join();
}

void Webhook::Post(WebhookEvent event) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  if (queue_.size() >= options_.max_queued) {
    FARM_LOG(WARNING) << "webhook: queue full (" << options_.max_queued
                      << "): " << queue_.front().name << " dropped";
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(std::move(event));
}

void Webhook::Run() {
  while (true) {
    WebhookEvent event;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    if (Deliver(event)) {
      ++delivered_;
    } else {
      ++failed_;
    }
  }
}

bool Webhook::Deliver(const WebhookEvent& event) {
  ExponentialBackoff backoff(options_.first_retry, options_.max_retry);
  for (int attempt = 1;; ++attempt) {
    const absl::Status sent = Send(event);
    if (sent.ok()) return true;
    const bool retry = absl::IsUnavailable(sent) && attempt < options_.max_attempts;
    FARM_LOG(WARNING) << "webhook: " << event.name << " attempt " << attempt << " of "
                      << options_.max_attempts << ": " << sent.message()
                      << (retry ? "; retrying" : "; giving up");
    if (!retry) return false;
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff.Next())) return false;
  }
}

absl::Status Webhook::Send(const WebhookEvent& event) {
  httplib::Client client(origin_);
  const absl::Duration timeout = options_.timeout;
  client.set_connection_timeout(absl::ToChronoSeconds(timeout));
  client.set_read_timeout(absl::ToChronoSeconds(timeout));
  client.set_write_timeout(absl::ToChronoSeconds(timeout));
  if (!options_.ca_file.empty()) client.set_ca_cert_path(options_.ca_file.c_str());
  httplib::Headers headers = {{"User-Agent", "kvmfarm-controller"}};
  if (!options_.secret.empty()) {
    headers.emplace("X-Kvmfarm-Signature", "sha256=" + HmacSha256Hex(options_.secret, event.body));
  }
  httplib::Result result = client.Post(path_, headers, event.body, "application/json");
  if (!result) {
    return absl::UnavailableError(
        absl::StrCat(origin_, path_, ": ", httplib::to_string(result.error())));
  }
  if (result->status >= 200 && result->status < 300) return absl::OkStatus();
  const std::string why = absl::StrCat(origin_, path_, " answered HTTP ", result->status);
  return Retryable(result->status) ? absl::UnavailableError(why)
                                   : absl::FailedPreconditionError(why);
}

}  // namespace kvmfarm::notifications
