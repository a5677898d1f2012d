#include "tools/farmctl/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/proto_enum.h"
#include "common/proto_time.h"
#include "proto/states.h"
#include "tools/farmctl/format.h"

namespace kvmfarm::farmctl {
namespace {

// "capability", "benchmark native", "boot".
std::string TaskLabel(const farm::v1::Task& task) {
  std::string label = LowerEnumValueName(task.kind());
  if (task.kind() == farm::v1::STEP_KIND_BENCHMARK) {
    absl::StrAppend(&label, " ", LowerEnumValueName(task.mode()));
  }
  return label;
}

}  // namespace

std::string ProgressBar(double fraction, int width) {
  const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * width + 0.5);
  return absl::StrCat("[", std::string(filled, '#'), std::string(width - filled, '.'), "]");
}

void SweepProgress::Track(const farm::v1::Task& task) {
  TaskView& view = devices_[task.device_id()][task.task_id()];
  view.state = task.state();
  if (task.has_progress() && task.progress().total_steps() > 0) {
    view.fraction = static_cast<double>(task.progress().step() - 1) / task.progress().total_steps();
  }
  if (task.has_progress() && !task.progress().message().empty()) {
    view.activity = absl::StrCat(TaskLabel(task), ": ", task.progress().message());
  } else {
    view.activity = task.status().empty() ? TaskLabel(task)
                                          : absl::StrCat(TaskLabel(task), ": ", task.status());
  }
}

void SweepProgress::Update(const farm::v1::WatchSweepResponse& event, absl::Time received) {
  if (event.has_task()) {
    Track(event.task());
    return;
  }
  if (!event.has_sweep()) return;
  // Summaries after the first carry no tasks: keep what the task events said.
  for (const farm::v1::Task& task : event.sweep().tasks()) Track(task);
  sweep_ = event.sweep();
  sweep_.clear_tasks();
  sweep_received_ = received;
}

std::vector<std::string> SweepProgress::Render(int bar_width, absl::Time now) const {
  size_t name_width = 7;  // "overall"
  for (const auto& [device, tasks] : devices_) name_width = std::max(name_width, device.size());
  std::vector<std::string> lines;
  for (const auto& [device, tasks] : devices_) {
    int done = 0;
    double progress = 0;
    std::string activity = "waiting";
    for (const auto& [id, task] : tasks) {
      if (TaskFinished(task.state)) {
        ++done;
        progress += 1;
      } else if (task.state == farm::v1::TASK_STATE_RUNNING) {
        progress += task.fraction;
        activity = task.activity;
      }
    }
    if (done == static_cast<int>(tasks.size())) activity = "done";
    lines.push_back(absl::StrFormat("%-*s %s %d/%d  %s", name_width, device,
                                    ProgressBar(progress / tasks.size(), bar_width), done,
                                    tasks.size(), activity));
  }
  const farm::v1::SweepCounts& c = sweep_.counts();
  const uint32_t finished = c.succeeded() + c.failed() + c.cancelled();
  std::string overall = absl::StrFormat(
      "%-*s %s %d/%d done, %d running, %d failed", name_width, "overall",
      ProgressBar(c.total() == 0 ? 0 : static_cast<double>(finished) / c.total(), bar_width),
      finished, c.total(), c.running(), c.failed());
  if (sweep_.has_eta() && finished < c.total()) {
    // Whole seconds of the controller's estimate, counted down since it arrived.
    const absl::Duration eta = std::max(
        absl::ZeroDuration(),
        absl::Trunc(FromProtoDuration(sweep_.eta()), absl::Seconds(1)) - (now - sweep_received_));
    absl::StrAppend(
        &overall, "  ETA ",
        eta < absl::Seconds(1) ? "<1s" : absl::FormatDuration(absl::Trunc(eta, absl::Seconds(1))));
  }
  lines.push_back(overall);
  return lines;
}

}  // namespace kvmfarm::farmctl
