#include "controller/matrix/guest_intervals.h"

#include <map>
#include <utility>

#include "common/measurement.h"
#include "common/statistics/two_samples.h"

namespace kvmfarm::matrix {
namespace {

// A figure with the task it came from.
struct Figure {
  const farm::v1::Measurement* measurement = nullptr;
  std::string task_id;
};

// (metric, parameters key, mode) -> figure.
using Figures = std::map<std::tuple<std::string, std::string, int>, Figure>;

std::vector<double> Values(const farm::v1::Measurement& m) {
  return {m.values().begin(), m.values().end()};
}

const Figure* Find(const Figures& figures, const std::string& metric, const std::string& params,
                   farm::v1::Mode mode) {
  auto it = figures.find({metric, params, mode});
  return it == figures.end() ? nullptr : &it->second;
}

}  // namespace

std::optional<farm::v1::Interval> BetterRatioInterval(const farm::v1::Measurement& a,
                                                      const farm::v1::Measurement& b) {
  if (a.values_size() < 2 || b.values_size() < 2) return std::nullopt;
  // BootstrapMedianRatio(x, y) is median(y) / median(x).
  const std::optional<statistics::Interval> ratio =
      a.higher_is_better() ? statistics::BootstrapMedianRatio(Values(b), Values(a))
                           : statistics::BootstrapMedianRatio(Values(a), Values(b));
  if (!ratio) return std::nullopt;
  farm::v1::Interval out;
  out.set_low(ratio->low);
  out.set_high(ratio->high);
  return out;
}

void AttachGuestIntervals(const std::vector<store::StoredSummary>& latest,
                          const std::string& task_id, farm::v1::BenchmarkResult* result) {
  Figures figures;
  for (const store::StoredSummary& s : latest) {
    figures[{s.measurement.metric(), store::ParametersKeyOf(s), s.measurement.mode()}] = {
        &s.measurement, s.task_id};
  }
  // The result's own figures come first: measured side by side.
  for (const farm::v1::Measurement& m : result->measurements()) {
    figures[{m.metric(), ParametersKey(m.parameters()), m.mode()}] = {&m, task_id};
  }
  for (farm::v1::Measurement& m : *result->mutable_measurements()) {
    if (m.mode() != farm::v1::MODE_KVM && m.mode() != farm::v1::MODE_TCG) continue;
    farm::v1::GuestIntervals intervals;
    // A guest of another architecture is against the host's native figure.
    const Figure* native =
        Find(figures, m.metric(), ParametersKey(m.parameters(), kGuestArchParameter),
             farm::v1::MODE_NATIVE);
    if (native != nullptr) {
      if (std::optional<farm::v1::Interval> ratio = BetterRatioInterval(m, *native->measurement)) {
        intervals.mutable_percent_of_native()->set_low(100 * ratio->low());
        intervals.mutable_percent_of_native()->set_high(100 * ratio->high());
        intervals.set_native_task_id(native->task_id);
      }
    }
    const bool kvm = m.mode() == farm::v1::MODE_KVM;
    const Figure* other = Find(figures, m.metric(), ParametersKey(m.parameters()),
                               kvm ? farm::v1::MODE_TCG : farm::v1::MODE_KVM);
    if (other != nullptr) {
      const std::optional<farm::v1::Interval> speedup =
          kvm ? BetterRatioInterval(m, *other->measurement)
              : BetterRatioInterval(*other->measurement, m);
      if (speedup) {
        *intervals.mutable_kvm_speedup_over_tcg() = *speedup;
        intervals.set_other_guest_task_id(other->task_id);
      }
    }
    if (intervals.ByteSizeLong() > 0) *m.mutable_intervals() = std::move(intervals);
  }
}

}  // namespace kvmfarm::matrix
