// -----------------------------------------------------------------------------
// File: progress.h
// -----------------------------------------------------------------------------
//
// `farmctl sweep watch` on a terminal: a bar per device and an overall bar with
// the controller's ETA, redrawn as WatchSweep events arrive. (Piped output gets
// plain event lines instead; see sweep_watch.h.)
#ifndef KVMFARM_TOOLS_FARMCTL_PROGRESS_H_
#define KVMFARM_TOOLS_FARMCTL_PROGRESS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::farmctl {

// "[#####.....]" with `width` cells inside the brackets; fraction is clamped to [0, 1].
std::string ProgressBar(double fraction, int width);

class SweepProgress {
 public:
  // `received` is when this client got the event: the ETA counts down from there
  // between the controller's summaries (clocks of the two machines never mix).
  void Update(const farm::v1::WatchSweepResponse& event, absl::Time received);

  // One line per device (in id order), then the overall line.
  std::vector<std::string> Render(int bar_width, absl::Time now) const;

 private:
  struct TaskView {
    farm::v1::TaskState state = farm::v1::TASK_STATE_PENDING;
    double fraction = 0;  // of a running task, from its progress steps
    std::string activity;
  };
  void Track(const farm::v1::Task& task);

  // device id -> task id -> what is known of the task.
  std::map<std::string, std::map<std::string, TaskView>> devices_;
  farm::v1::Sweep sweep_;
  absl::Time sweep_received_;
};

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_PROGRESS_H_
