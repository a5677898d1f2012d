// -----------------------------------------------------------------------------
// File: shared_probe.h
// -----------------------------------------------------------------------------
//
// One capability probe in flight for any number of callers (issue 15). A probe
// reads hundreds of files and may take seconds on a phone; fifty callers asking
// for a refresh at once must not start fifty probes, nor hold fifty threads while
// they wait. Callers join the probe in flight (or start one if none runs) with a
// callback and hold no thread; the probe runs on one worker thread of its own and
// every caller still waiting gets its result. A caller that goes away leaves; a
// probe is started only when a caller joins, so once every caller has gone no
// further probe runs (the one in flight cannot be interrupted and finishes once).
//
// Example:
//
//   SharedProbe probe([&] { return probe::RunProbe(options); });
//   const SharedProbe::Ticket ticket = probe.Join([](const SharedProbe::Result& r) {...});
//   ...
//   if (probe.Leave(ticket)) { /* the callback will not run */ }
#ifndef KVMFARM_AGENT_SHARED_PROBE_H_
#define KVMFARM_AGENT_SHARED_PROBE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

class SharedProbe {
 public:
  using Result = absl::StatusOr<farm::v1::KvmCapability>;
  using Callback = std::function<void(const Result&)>;
  using Ticket = uint64_t;

  // `probe` runs on the worker thread, one run at a time.
  explicit SharedProbe(std::function<Result()> probe);
  // Waits for a probe in flight; callers still waiting get UNAVAILABLE.
  ~SharedProbe();
  SharedProbe(const SharedProbe&) = delete;
  SharedProbe& operator=(const SharedProbe&) = delete;

  // `done` runs once, on the worker thread, with the result of the probe in flight
  // when it started after this call, else of one started now. Never inline.
  Ticket Join(Callback done);
  // The caller is gone. True when its callback was removed and will never run;
  // false when it already ran or is running now.
  bool Leave(Ticket ticket);

  // How many probes have started, and how many callers wait (tests, benchmarks).
  int64_t probes_started() const;
  int waiting() const;

 private:
  void Work();

  const std::function<Result()> probe_;
  mutable absl::Mutex mu_;
  // Callers of the probe in flight or about to start, by ticket.
  std::map<Ticket, Callback> waiting_ ABSL_GUARDED_BY(mu_);
  Ticket next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  // Set by Join when no probe is in flight; the worker clears it as it starts one.
  bool start_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t probes_started_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread worker_;
};

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_SHARED_PROBE_H_
