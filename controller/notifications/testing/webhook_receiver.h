// -----------------------------------------------------------------------------
// File: webhook_receiver.h
// -----------------------------------------------------------------------------
//
// A lab's webhook receiver for tests: an HTTP server on a loopback port that keeps
// every request it is sent, and answers each with the next status of `statuses`
// (200 once they run out), so a test can make it fail on purpose.
//
// Example:
//
//   WebhookReceiver receiver({503});  // the first POST fails, the next succeed
//   options.url = receiver.url();
//   ASSERT_TRUE(WaitFor([&] { return receiver.Requests().size() == 2; }));
#ifndef KVMFARM_CONTROLLER_NOTIFICATIONS_TESTING_WEBHOOK_RECEIVER_H_
#define KVMFARM_CONTROLLER_NOTIFICATIONS_TESTING_WEBHOOK_RECEIVER_H_

#include <httplib.h>

#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace kvmfarm::notifications::testing {

struct ReceivedRequest {
  std::string path;
  std::string body;
  std::string signature;  // X-Kvmfarm-Signature, when sent
};

class WebhookReceiver {
 public:
  explicit WebhookReceiver(std::deque<int> statuses = {}) : statuses_(std::move(statuses)) {
    server_.Post(".*", [this](const httplib::Request& request, httplib::Response& response) {
      absl::MutexLock lock(&mu_);
      requests_.push_back(
          {request.path, request.body, request.get_header_value("X-Kvmfarm-Signature")});
      response.status = 200;
      if (!statuses_.empty()) {
        response.status = statuses_.front();
        statuses_.pop_front();
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    EXPECT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Until the thread's loop runs, stop() would be lost and the loop never end.
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~WebhookReceiver() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hooks/kvmfarm"; }
  int port() const { return port_; }
  std::vector<ReceivedRequest> Requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex mu_;
  std::deque<int> statuses_;
  std::vector<ReceivedRequest> requests_;
};

}  // namespace kvmfarm::notifications::testing

#endif  // KVMFARM_CONTROLLER_NOTIFICATIONS_TESTING_WEBHOOK_RECEIVER_H_
