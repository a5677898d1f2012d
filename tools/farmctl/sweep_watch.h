// -----------------------------------------------------------------------------
// File: sweep_watch.h
// -----------------------------------------------------------------------------
//
// `farmctl sweep watch` (and `sweep start --watch`): follows a sweep's WatchSweep
// stream until the sweep ends. On a terminal, bars redrawn in place (progress.h);
// otherwise (a pipe, a log file, CI) one plain line per sweep summary and per task
// change, which greps well.
//
// Example:
//
//   ASSIGN_OR_RETURN(farm::v1::SweepState end, WatchSweep(controller, "s-20240101-0001"));
#ifndef KVMFARM_TOOLS_FARMCTL_SWEEP_WATCH_H_
#define KVMFARM_TOOLS_FARMCTL_SWEEP_WATCH_H_

#include <map>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"
#include "tools/farmctl/progress.h"
#include "tools/farmctl/rpc_client.h"

namespace kvmfarm::farmctl {

// Prints a sweep's events as they arrive.
class SweepWatchPrinter {
 public:
  // `terminal`: redraw the bars in place; otherwise print plain lines.
  SweepWatchPrinter(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}

  // One event, received at `now`; on a terminal, lines are cut to `columns` so
  // none wraps (a wrapped line takes two rows and breaks the redraw).
  void Print(const farm::v1::WatchSweepResponse& event, absl::Time now, size_t columns);

  // After the stream ended well: on a terminal, the sweep's final summary line.
  void Finish();

  // The last summary of the sweep received.
  const farm::v1::Sweep& last() const { return last_; }

 private:
  void Redraw(const farm::v1::WatchSweepResponse& event, absl::Time now, size_t columns);
  void PrintLine(const farm::v1::WatchSweepResponse& event);

  std::ostream& out_;
  const bool terminal_;
  farm::v1::Sweep last_;
  SweepProgress progress_;
  size_t drawn_lines_ = 0;
  std::map<std::string, farm::v1::TaskState> last_state_;
};

// Follows `sweep_id` on stdout until it ends: the state it ended in, or the
// stream's error.
absl::StatusOr<farm::v1::SweepState> WatchSweep(const ControllerClient& controller,
                                                const std::string& sweep_id);

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_SWEEP_WATCH_H_
