// -----------------------------------------------------------------------------
// File: throttling.h
// -----------------------------------------------------------------------------
//
// Whether a repetition was measured while the device throttled, from the
// environment samples taken during the job (environment.h). A repetition is
// throttled when, in its window, a CPU's maximum frequency (scaling_max_freq, the
// cap a thermal governor lowers) fell below a fraction of its value at the job's
// start, or a thermal zone was at or past its lowest passive/hot/critical trip
// point. Its value is kept and flagged: the operator decides, the farm says.
//
// Example:
//
//   RepetitionWindows windows;        // fed from the workload's progress lines
//   windows.OnProgress(progress, offset);
//   MarkThrottled(windows.Close(end), samples, ThrottleOptions{}, &result);
#ifndef KVMFARM_AGENT_THROTTLING_H_
#define KVMFARM_AGENT_THROTTLING_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm {

// "44.5 °C" from millidegrees, as every note about temperatures says it.
std::string CelsiusText(int32_t millicelsius);

struct ThrottleOptions {
  // A CPU whose maximum frequency falls below this fraction of its start throttled.
  double min_frequency_fraction = 0.9;
};

// When one repetition of one workload ran, as offsets from the job's start.
struct RepetitionWindow {
  std::string workload;
  uint32_t repetition = 0;  // 0-based, as the index into Measurement.values
  absl::Duration from;
  absl::Duration to;
};

// Builds the windows from farm-workload's progress lines: each repetition runs
// from its progress line to the next line of any kind, or to Close (the end of the
// farm-workload run; a run after it may add more).
class RepetitionWindows {
 public:
  void OnProgress(const farm::v1::Progress& progress, absl::Duration offset);
  // Ends the open window at `end`; every window so far.
  std::vector<RepetitionWindow> Close(absl::Duration end);

 private:
  std::vector<RepetitionWindow> windows_;
  bool open_ = false;
};

// Why the samples of [from, to] show throttling against `start` (the job's first
// sample); empty when they don't. With no sample inside the window, the first one
// after it stands for it (a repetition shorter than the sampling interval).
std::string ThrottleReason(const std::vector<farm::v1::EnvironmentSample>& samples,
                           absl::Duration from, absl::Duration to, const ThrottleOptions& options);

// Marks each measurement's throttled repetitions (Measurement.throttled_repetitions
// and its note; a measurement's workload is its metric's first word) and adds a
// note to the result saying what was checked and what was found.
void MarkThrottled(const std::vector<RepetitionWindow>& windows,
                   const std::vector<farm::v1::EnvironmentSample>& samples,
                   const ThrottleOptions& options, farm::v1::BenchmarkResult* result);

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_THROTTLING_H_
