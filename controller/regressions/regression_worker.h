// -----------------------------------------------------------------------------
// File: regression_worker.h
// -----------------------------------------------------------------------------
//
// The tracker's work off the scheduler's lock: the scheduler's hooks must return
// at once, so a sweep's end and a stored verdict are queued here and checked on
// this worker's thread, one at a time, in order. A check that fails (the database
// refused a write) is logged and announces nothing it could not store.
//
// Example:
//
//   RegressionWorker worker(&tracker);
//   options.on_sweep_finished = [&](const Sweep& s) { worker.SweepFinished(s.sweep_id()); };
#ifndef KVMFARM_CONTROLLER_REGRESSIONS_REGRESSION_WORKER_H_
#define KVMFARM_CONTROLLER_REGRESSIONS_REGRESSION_WORKER_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/regressions/regression_tracker.h"

namespace kvmfarm::regressions {

class RegressionWorker {
 public:
  explicit RegressionWorker(RegressionTracker* tracker);
  // Checks what is queued, then stops.
  ~RegressionWorker();

  void SweepFinished(const std::string& sweep_id);
  void VerdictStored(const std::string& device_id, farm::v1::Verdict before,
                     farm::v1::Verdict after, const std::string& sweep_id);
  // After a restart or a change of leader (RegressionTracker::RecheckNewest).
  void RecheckNewest();
  // Blocks until everything queued so far is checked (tests, shutdown).
  void Drain();

 private:
  void Enqueue(std::function<void()> job);
  void Run();

  RegressionTracker* const tracker_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kvmfarm::regressions

#endif  // KVMFARM_CONTROLLER_REGRESSIONS_REGRESSION_WORKER_H_
