// -----------------------------------------------------------------------------
// File: probe_gate.h
// -----------------------------------------------------------------------------
//
// For tests that need a probe held in flight: ProbeGate::Run runs a probe only once
// the test releases the gate, and counts the runs that started and finished, so a
// test can see callers pile up behind one probe, then let it end.
//
// Example:
//
//   ProbeGate gate;
//   SharedProbe probe([&] { return gate.Run(FakeProbe); });
//   ... callers join; WaitFor gate.started() == 1 ...
//   gate.Release();
#ifndef KVMFARM_AGENT_TESTING_PROBE_GATE_H_
#define KVMFARM_AGENT_TESTING_PROBE_GATE_H_

#include <atomic>
#include <utility>

#include "absl/synchronization/notification.h"

namespace kvmfarm::testing {

class ProbeGate {
 public:
  // Counts a start, waits for Release (returns at once after it), runs `probe`,
  // counts a finish and returns its result.
  template <typename Probe>
  auto Run(Probe&& probe) {
    started_.fetch_add(1);
    release_.WaitForNotification();
    auto result = std::forward<Probe>(probe)();
    finished_.fetch_add(1);
    return result;
  }

  void Release() { release_.Notify(); }
  int started() const { return started_.load(); }
  int finished() const { return finished_.load(); }

 private:
  absl::Notification release_;
  std::atomic<int> started_{0};
  std::atomic<int> finished_{0};
};

}  // namespace kvmfarm::testing

#endif  // KVMFARM_AGENT_TESTING_PROBE_GATE_H_
