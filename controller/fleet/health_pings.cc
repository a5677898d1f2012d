#include "controller/fleet/health_pings.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"

namespace kvmfarm::fleet {

HealthPings::HealthPings(Fleet* fleet, scheduler::AgentClient* agents, HealthPingOptions options)
    : fleet_(fleet), agents_(agents), options_(options) {}

HealthPings::~HealthPings() {
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_.clear();
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
}

bool HealthPings::RoundDone() const { return round_pending_ == 0; }

PingRound HealthPings::Round() {
  const absl::Time start = absl::Now();
  const std::vector<farm::v1::Device> devices = fleet_->ToPing();
  PingRound result;
  absl::MutexLock lock(&mu_);
  ++round_;
  round_pending_ = round_answered_ = round_failed_ = 0;
  for (const farm::v1::Device& device : devices) {
    if (!out_.insert(device.device_id()).second) {
      ++result.skipped;
      continue;
    }
    queue_.push_back({device.device_id(), device.agent_address(), round_});
    ++round_pending_;
    ++result.sent;
  }
  // A worker per ping waiting to start, up to max_concurrent in all.
  const int wanted =
      std::min<int>(options_.max_concurrent, static_cast<int>(workers_.size()) - idle_workers_ +
                                                 static_cast<int>(queue_.size()));
  while (static_cast<int>(workers_.size()) < wanted) workers_.emplace_back([this] { Work(); });
  mu_.AwaitWithDeadline(absl::Condition(this, &HealthPings::RoundDone),
                        start + options_.round_budget);
  result.answered = round_answered_;
  result.failed = round_failed_;
  result.still_out = static_cast<int>(out_.size());
  result.took = absl::Now() - start;
  return result;
}

bool HealthPings::WorkOrStop() const { return stopping_ || !queue_.empty(); }

void HealthPings::Work() {
  mu_.Lock();
  while (true) {
    ++idle_workers_;
    mu_.Await(absl::Condition(this, &HealthPings::WorkOrStop));
    --idle_workers_;
    if (queue_.empty()) break;  // stopping
    const Ping ping = std::move(queue_.front());
    queue_.pop_front();
    mu_.Unlock();
    const bool answered = agents_->GetStatus(ping.address).ok();
    // A device removed meanwhile is not an error worth more than the ping.
    if (answered) fleet_->Seen(ping.device_id).IgnoreError();
    mu_.Lock();
    out_.erase(ping.device_id);
    if (ping.round == round_) {
      --round_pending_;
      ++(answered ? round_answered_ : round_failed_);
    }
  }
  mu_.Unlock();
}

}  // namespace kvmfarm::fleet
