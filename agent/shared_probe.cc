#include "agent/shared_probe.h"

#include <utility>

namespace kvmfarm {

SharedProbe::SharedProbe(std::function<Result()> probe)
    : probe_(std::move(probe)), worker_([this] { Work(); }) {}

SharedProbe::~SharedProbe() {
  std::map<Ticket, Callback> left;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  worker_.join();
  {
    absl::MutexLock lock(&mu_);
    left.swap(waiting_);
  }
  const Result stopped = absl::UnavailableError("farm-agent is stopping");
  for (auto& [ticket, done] : left) done(stopped);
}

SharedProbe::Ticket SharedProbe::Join(Callback done) {
  absl::MutexLock lock(&mu_);
  const Ticket ticket = next_ticket_++;
  waiting_.emplace(ticket, std::move(done));
  if (!in_flight_) start_requested_ = true;
  return ticket;
}

bool SharedProbe::Leave(Ticket ticket) {
  absl::MutexLock lock(&mu_);
  return waiting_.erase(ticket) > 0;
}

int64_t SharedProbe::probes_started() const {
  absl::MutexLock lock(&mu_);
  return probes_started_;
}

int SharedProbe::waiting() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(waiting_.size());
}

void SharedProbe::Work() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SharedProbe* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->start_requested_ || self->stopping_;
          },
          this));
      if (stopping_) return;
      start_requested_ = false;
      // Every caller left before the probe began: it is not run at all.
      if (waiting_.empty()) continue;
      in_flight_ = true;
      ++probes_started_;
    }
    const Result result = probe_();
    std::map<Ticket, Callback> callers;
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = false;
      callers.swap(waiting_);
    }
    // Outside the lock: a callback may finish a gRPC call, which may join again.
    for (auto& [ticket, done] : callers) done(result);
  }
}

}  // namespace kvmfarm
