// Google Benchmark view of each kernel, reporting the same throughput units:
//   bazel run -c opt //workloads:workloads_benchmark
#include <benchmark/benchmark.h>

#include <vector>

#include "workloads/compute.h"
#include "workloads/crypto.h"
#include "workloads/memory.h"

namespace kvmfarm::workloads {
namespace {

// Runs one repetition of `workload` per benchmark iteration.
void RunRepetitions(benchmark::State& state, Workload& workload, int64_t bytes_per_run,
                    int64_t items_per_run) {
  if (!workload.Prepare().ok()) {
    state.SkipWithError("prepare failed");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<std::vector<Sample>> samples = workload.RunOnce();
    if (!samples.ok()) {
      state.SkipWithError(std::string(samples.status().message()).c_str());
      return;
    }
  }
  if (bytes_per_run) state.SetBytesProcessed(state.iterations() * bytes_per_run);
  if (items_per_run) state.SetItemsProcessed(state.iterations() * items_per_run);
}

void BM_Crypto(benchmark::State& state) {
  auto w = MakeCryptoWorkload(state.range(0));
  // Two ciphers over the same bytes per repetition.
  RunRepetitions(state, *w, 2 * state.range(0), 0);
}
BENCHMARK(BM_Crypto)->Arg(16 << 20)->Unit(benchmark::kMillisecond);

void BM_Sieve(benchmark::State& state) {
  std::vector<uint8_t> scratch;
  for (auto _ : state) benchmark::DoNotOptimize(CountPrimesBelow(10000000, &scratch));
  state.SetItemsProcessed(state.iterations() * 10000000);
}
BENCHMARK(BM_Sieve)->Unit(benchmark::kMillisecond);

void BM_HashChain(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(HashChain(1, 1 << 22));
  state.SetItemsProcessed(state.iterations() * (1 << 22));
}
BENCHMARK(BM_HashChain)->Unit(benchmark::kMillisecond);

void BM_NBody(benchmark::State& state) {
  double before, after;
  for (auto _ : state) {
    NBody(state.range(0), &before, &after);
    benchmark::DoNotOptimize(after);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_NBody)->Arg(1000000)->Unit(benchmark::kMillisecond);

void BM_MemRead(benchmark::State& state) {
  auto w = MakeMemReadWorkload(state.range(0), 1);
  RunRepetitions(state, *w, 2 * state.range(0), 0);  // warm-up pass + timed pass
}
BENCHMARK(BM_MemRead)->Arg(256 << 20)->Unit(benchmark::kMillisecond);

void BM_MemWrite(benchmark::State& state) {
  auto w = MakeMemWriteWorkload(state.range(0), 1);
  RunRepetitions(state, *w, 2 * state.range(0), 0);
}
BENCHMARK(BM_MemWrite)->Arg(256 << 20)->Unit(benchmark::kMillisecond);

void BM_MemRandom(benchmark::State& state) {
  auto w = MakeMemRandomWorkload(256 << 20, state.range(0));
  RunRepetitions(state, *w, 0, state.range(0));  // a whole cycle: no validation walk
}
BENCHMARK(BM_MemRandom)->Arg((256 << 20) / 64)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kvmfarm::workloads
