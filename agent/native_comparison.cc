#include "agent/native_comparison.h"

#include <utility>

#include "common/measurement.h"

namespace kvmfarm {
namespace {

// The same measurement: metric and parameters, whatever the guest's architecture.
bool SameMeasurement(const farm::v1::Measurement& a, const farm::v1::Measurement& b) {
  return a.metric() == b.metric() && ParametersKey(a.parameters(), kGuestArchParameter) ==
                                         ParametersKey(b.parameters(), kGuestArchParameter);
}

}  // namespace

void MergeNative(const farm::v1::BenchmarkResult& native, farm::v1::BenchmarkResult* guest) {
  google::protobuf::RepeatedPtrField<farm::v1::Measurement> merged = native.measurements();
  for (farm::v1::Measurement m : guest->measurements()) {
    for (const farm::v1::Measurement& n : native.measurements()) {
      if (!SameMeasurement(n, m) || !n.has_median() || !m.has_median() || n.median() <= 0 ||
          m.median() <= 0) {
        continue;
      }
      m.set_percent_of_native(m.higher_is_better() ? 100 * m.median() / n.median()
                                                   : 100 * n.median() / m.median());
    }
    *merged.Add() = std::move(m);
  }
  *guest->mutable_measurements() = std::move(merged);
  for (const farm::v1::WorkloadFailure& f : native.failures()) {
    farm::v1::WorkloadFailure* copy = guest->add_failures();
    *copy = f;
    copy->set_reason("native: " + f.reason());
  }
  // Both runs' samples, native's first (each offset from the start of its own run),
  // and native's notes (what its throttling check found).
  google::protobuf::RepeatedPtrField<farm::v1::EnvironmentSample> samples = native.environment();
  samples.MergeFrom(guest->environment());
  *guest->mutable_environment() = std::move(samples);
  for (const std::string& note : native.notes()) guest->add_notes("native: " + note);
}

}  // namespace kvmfarm
