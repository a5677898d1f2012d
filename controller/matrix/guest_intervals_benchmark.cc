// What computing the matrix's intervals costs the controller when it stores a
// result (issue 20), and what building the matrix from summaries that carry them
// costs: bazel run -c opt //controller/matrix:guest_intervals_benchmark
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "controller/matrix/guest_intervals.h"
#include "controller/matrix/matrix.h"

namespace kvmfarm::matrix {
namespace {

// A result of `metrics` metrics in native, KVM and TCG, five repetitions each.
farm::v1::BenchmarkResult Result(int metrics) {
  farm::v1::BenchmarkResult result;
  for (int i = 0; i < metrics; ++i) {
    for (const auto& [mode, scale] :
         {std::pair{farm::v1::MODE_NATIVE, 1.0}, std::pair{farm::v1::MODE_KVM, 0.9},
          std::pair{farm::v1::MODE_TCG, 0.1}}) {
      farm::v1::Measurement* m = result.add_measurements();
      m->set_metric("metric." + std::to_string(i));
      m->set_higher_is_better(true);
      m->set_mode(mode);
      for (double f : {0.99, 0.995, 1.0, 1.005, 1.01}) m->add_values(1000 * scale * f);
    }
  }
  return result;
}

// One stored result: every guest figure's intervals.
void BM_AttachGuestIntervals(benchmark::State& state) {
  const farm::v1::BenchmarkResult fresh = Result(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    farm::v1::BenchmarkResult result = fresh;
    AttachGuestIntervals({}, "t1", &result);
    benchmark::DoNotOptimize(result);
  }
  state.SetLabel(std::to_string(state.range(0)) + " metrics x 3 modes, 5 repetitions");
}
BENCHMARK(BM_AttachGuestIntervals)->Arg(1)->Arg(15)->Unit(benchmark::kMicrosecond);

// The matrix of 1,000 devices of 15 cells each, with and without stored intervals.
void BM_BuildMatrix(benchmark::State& state) {
  const bool intervals = state.range(0) == 1;
  farm::v1::BenchmarkResult result = Result(15);
  if (intervals) AttachGuestIntervals({}, "t1", &result);
  std::vector<farm::v1::Device> devices;
  std::vector<store::StoredSummary> summaries;
  for (int d = 0; d < 1000; ++d) {
    farm::v1::Device device;
    device.set_device_id("d" + std::to_string(d));
    devices.push_back(device);
    for (const farm::v1::Measurement& m : result.measurements()) {
      store::StoredSummary s;
      s.device_id = device.device_id();
      s.task_id = "t1";
      s.measurement = m;
      summaries.push_back(s);
    }
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(BuildMatrix(devices, summaries, farm::v1::GROUP_BY_DEVICE));
  }
  state.SetLabel(intervals ? "with intervals" : "without");
}
BENCHMARK(BM_BuildMatrix)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvmfarm::matrix
