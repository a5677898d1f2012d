#include "controller/regressions/regression_worker.h"

#include <utility>

#include "common/logging.h"

namespace kvmfarm::regressions {

RegressionWorker::RegressionWorker(RegressionTracker* tracker) : tracker_(tracker) {
  thread_ = std::thread([this] { Run(); });
}

RegressionWorker::~RegressionWorker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void RegressionWorker::SweepFinished(const std::string& sweep_id) {
  Enqueue([this, sweep_id] {
    absl::StatusOr<std::vector<farm::v1::Regression>> changed = tracker_->SweepFinished(sweep_id);
    if (!changed.ok()) {
      FARM_LOG(ERROR) << "sweep " << sweep_id
                      << " not compared with its baselines: " << changed.status();
      return;
    }
    for (const farm::v1::Regression& r : *changed) {
      FARM_LOG(INFO) << EventName(r) << ": " << r.regression_id();
    }
  });
}

void RegressionWorker::VerdictStored(const std::string& device_id, farm::v1::Verdict before,
                                     farm::v1::Verdict after, const std::string& sweep_id) {
  Enqueue([this, device_id, before, after, sweep_id] {
    absl::StatusOr<std::vector<farm::v1::Regression>> changed =
        tracker_->VerdictStored(device_id, before, after, sweep_id);
    if (!changed.ok()) {
      FARM_LOG(ERROR) << "verdict of " << device_id << " in sweep " << sweep_id
                      << " not checked: " << changed.status();
      return;
    }
    for (const farm::v1::Regression& r : *changed) {
      FARM_LOG(INFO) << EventName(r) << ": " << r.regression_id();
    }
  });
}

void RegressionWorker::RecheckNewest() {
  Enqueue([this] {
    // The newest 50 sweeps: a lab's last day or so, whatever a crash interrupted.
    constexpr int kSweeps = 50;
    absl::StatusOr<std::vector<farm::v1::Regression>> changed = tracker_->RecheckNewest(kSweeps);
    if (!changed.ok()) {
      FARM_LOG(ERROR) << "the newest sweeps not checked again: " << changed.status();
      return;
    }
    for (const farm::v1::Regression& r : *changed) {
      FARM_LOG(INFO) << EventName(r) << " (checked again): " << r.regression_id();
    }
  });
}

void RegressionWorker::Drain() {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return jobs_.empty() && !busy_; };
  mu_.Await(absl::Condition(&idle));
}

void RegressionWorker::Enqueue(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  jobs_.push_back(std::move(job));
}

void RegressionWorker::Run() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_ || !jobs_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (jobs_.empty()) return;  // stopping, and nothing left to check
      job = std::move(jobs_.front());
      jobs_.pop_front();
      busy_ = true;
    }
    job();
    absl::MutexLock lock(&mu_);
    busy_ = false;
  }
}

}  // namespace kvmfarm::regressions
