#include "agent/throttling.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"

namespace kvmfarm {
namespace {

std::string Ghz(uint32_t khz) { return absl::StrFormat("%.2f GHz", khz / 1e6); }

// Why one sample shows throttling against the start; empty when it doesn't.
std::string SampleReason(const farm::v1::EnvironmentSample& start,
                         const farm::v1::EnvironmentSample& sample,
                         const ThrottleOptions& options) {
  for (const auto& [cpu, khz] : sample.cpu_max_frequency_khz()) {
    auto at_start = start.cpu_max_frequency_khz().find(cpu);
    if (at_start == start.cpu_max_frequency_khz().end()) continue;
    if (khz < options.min_frequency_fraction * at_start->second) {
      return absl::StrCat("cpu", cpu, " maximum frequency ", Ghz(khz), ", below ",
                          absl::StrFormat("%.0f", 100 * options.min_frequency_fraction), " % of ",
                          Ghz(at_start->second), " at the start");
    }
  }
  for (const auto& [zone, temp] : sample.thermal_millicelsius()) {
    auto trip = sample.thermal_trip_millicelsius().find(zone);
    if (trip != sample.thermal_trip_millicelsius().end() && temp >= trip->second) {
      return absl::StrCat("thermal zone ", zone, " at ", CelsiusText(temp),
                          ", past its trip point ", CelsiusText(trip->second));
    }
  }
  return "";
}

// The workload a metric belongs to: "mem_read.bandwidth" → "mem_read".
std::string WorkloadOf(const std::string& metric) { return metric.substr(0, metric.find('.')); }

}  // namespace

std::string CelsiusText(int32_t millicelsius) {
  return absl::StrFormat("%.1f °C", millicelsius / 1e3);
}

void RepetitionWindows::OnProgress(const farm::v1::Progress& progress, absl::Duration offset) {
  if (open_) {
    windows_.back().to = offset;
    open_ = false;
  }
  if (progress.repetition() == 0 || progress.workload().empty()) return;
  windows_.push_back({progress.workload(), progress.repetition() - 1, offset, offset});
  open_ = true;
}

std::vector<RepetitionWindow> RepetitionWindows::Close(absl::Duration end) {
  if (open_) windows_.back().to = end;
  open_ = false;
  return windows_;
}

std::string ThrottleReason(const std::vector<farm::v1::EnvironmentSample>& samples,
                           absl::Duration from, absl::Duration to, const ThrottleOptions& options) {
  bool inside = false;
  for (const farm::v1::EnvironmentSample& sample : samples) {
    const absl::Duration at = FromProtoDuration(sample.offset());
    if (at < from) continue;
    if (at > to && inside) break;
    std::string reason = SampleReason(samples.front(), sample, options);
    if (!reason.empty() || at > to) return reason;  // the first after stands for the window
    inside = true;
  }
  return "";
}

void MarkThrottled(const std::vector<RepetitionWindow>& windows,
                   const std::vector<farm::v1::EnvironmentSample>& samples,
                   const ThrottleOptions& options, farm::v1::BenchmarkResult* result) {
  const bool checkable = !samples.empty() && (!samples.front().cpu_max_frequency_khz().empty() ||
                                              !samples.front().thermal_trip_millicelsius().empty());
  if (!checkable) {
    result->add_notes(
        "throttling not checked: the device exposes neither scaling_max_freq nor thermal trip "
        "points");
    return;
  }
  // workload → repetition → why it throttled.
  std::map<std::string, std::map<uint32_t, std::string>> throttled;
  for (const RepetitionWindow& window : windows) {
    std::string reason = ThrottleReason(samples, window.from, window.to, options);
    if (!reason.empty()) throttled[window.workload][window.repetition] = std::move(reason);
  }
  int marked = 0;
  for (farm::v1::Measurement& m : *result->mutable_measurements()) {
    auto workload = throttled.find(WorkloadOf(m.metric()));
    if (workload == throttled.end()) continue;
    std::vector<std::string> reps;
    for (const auto& [rep, reason] : workload->second) {
      if (rep >= static_cast<uint32_t>(m.values_size())) continue;
      m.add_throttled_repetitions(rep);
      reps.push_back(absl::StrCat(rep + 1));
    }
    if (reps.empty()) continue;
    ++marked;
    absl::StrAppend(m.mutable_note(), m.note().empty() ? "" : "; ", "throttled in repetition",
                    reps.size() > 1 ? "s " : " ", absl::StrJoin(reps, ", "), ": ",
                    workload->second.begin()->second);
  }
  result->add_notes(marked == 0 ? absl::StrCat("no throttling seen in ", samples.size(),
                                               " samples of CPU maximum frequencies and "
                                               "thermal trip points")
                                : absl::StrCat(marked, " figures have throttled repetitions"));
}

}  // namespace kvmfarm
