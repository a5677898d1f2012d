// -----------------------------------------------------------------------------
// File: environment.h
// -----------------------------------------------------------------------------
//
// What the device looks like while a measurement runs: each CPU's current
// frequency, the thermal zones, and on phones the battery — the reference talks of
// power and battery life but never measured them. Every figure is read only where
// the device exposes it; a missing one is absent, never zero.
//
// Example:
//
//   EnvironmentSampler sampler(sysroot, absl::Seconds(1));
//   sampler.Start();
//   ... run the workload ...
//   std::vector<farm::v1::EnvironmentSample> samples = sampler.Stop();
#ifndef KVMFARM_AGENT_ENVIRONMENT_H_
#define KVMFARM_AGENT_ENVIRONMENT_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "agent/probe/sysroot.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

// One reading of frequencies, thermal zones and battery, at `offset`.
farm::v1::EnvironmentSample ReadEnvironment(const probe::Sysroot& sysroot, absl::Duration offset);

// Joules drawn between consecutive samples whose battery reports current and
// voltage, from |current| x voltage integrated over time; absent when fewer than
// two samples carry both.
absl::optional<double> EnergyJoules(const std::vector<farm::v1::EnvironmentSample>& samples,
                                    absl::Duration from, absl::Duration to);

// Samples in a background thread until stopped.
class EnvironmentSampler {
 public:
  EnvironmentSampler(probe::Sysroot sysroot, absl::Duration interval);
  ~EnvironmentSampler();

  // Takes the first sample (the job's start) before it returns.
  void Start();
  // Takes a last sample, stops the thread and returns every sample.
  std::vector<farm::v1::EnvironmentSample> Stop();

 private:
  void Loop();

  const probe::Sysroot sysroot_;
  const absl::Duration interval_;
  absl::Time start_;
  absl::Notification stop_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<farm::v1::EnvironmentSample> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_ENVIRONMENT_H_
