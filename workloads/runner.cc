#include "workloads/runner.h"

#include <sys/utsname.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/cpuinfo_fields.h"
#include "common/measurement.h"
#include "common/version.h"
#include "workloads/workload.h"

namespace kvmfarm::workloads {
namespace {

std::string FirstLineOf(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

// "model name" on x86; "CPU part" of CPU 0 on arm64.
std::string CpuModel() {
  const CpuinfoFields cpuinfo = ReadCpuinfo();
  const std::string model = FirstProcessorField(cpuinfo, "model name");
  if (!model.empty()) return model;
  const std::string part = FirstProcessorField(cpuinfo, "CPU part");
  return part.empty() ? "" : "arm64 CPU part " + part;
}

}  // namespace

farm::v1::Provenance WorkloadProvenance() {
  farm::v1::Provenance provenance;
  provenance.set_workload_build(absl::StrCat("farm-workload ", kKvmfarmVersion,
#if defined(__aarch64__)
                                             " aarch64",
#elif defined(__x86_64__)
                                             " x86_64",
#endif
                                             " gcc ", __VERSION__));
  provenance.set_cpu_model(CpuModel());
  provenance.set_cpu_governor(FirstLineOf("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"));
  struct utsname uts;
  if (uname(&uts) == 0) provenance.set_kernel_release(uts.release);
  return provenance;
}

farm::v1::BenchmarkResult RunWorkloads(const std::vector<farm::v1::WorkloadSpec>& specs,
                                       uint32_t repetitions, const ProgressCallback& on_progress) {
  if (repetitions == 0) repetitions = 1;
  farm::v1::BenchmarkResult result;
  result.set_mode(farm::v1::MODE_NATIVE);
  *result.mutable_provenance() = WorkloadProvenance();
  const uint32_t total_steps = static_cast<uint32_t>(specs.size()) * repetitions;
  uint32_t step = 0;
  bool all_ok = true;

  for (const farm::v1::WorkloadSpec& spec : specs) {
    auto fail = [&](const absl::Status& status) {
      farm::v1::WorkloadFailure* failure = result.add_failures();
      failure->set_workload(spec.name());
      failure->set_reason(std::string(status.message()));
      all_ok = false;
    };
    absl::StatusOr<std::unique_ptr<Workload>> workload = MakeWorkload(spec);
    if (!workload.ok()) {
      fail(workload.status());
      step += repetitions;
      continue;
    }
    if (on_progress) {
      farm::v1::Progress progress;
      progress.set_message(absl::StrCat("preparing ", spec.name()));
      progress.set_step(step + 1);
      progress.set_total_steps(total_steps);
      progress.set_workload(spec.name());
      on_progress(progress);
    }
    absl::Status prepared = (*workload)->Prepare();
    if (!prepared.ok()) {
      fail(prepared);
      step += repetitions;
      continue;
    }
    std::map<std::string, farm::v1::Measurement> by_metric;
    for (const MetricInfo& info : (*workload)->metrics()) {
      farm::v1::Measurement& m = by_metric[info.key];
      m.set_metric(info.key);
      m.set_unit(info.unit);
      m.set_higher_is_better(info.higher_is_better);
      m.set_mode(farm::v1::MODE_NATIVE);
      for (const auto& [key, value] : (*workload)->parameters()) {
        (*m.mutable_parameters())[key] = value;
      }
    }
    bool workload_ok = true;
    for (uint32_t rep = 0; rep < repetitions; ++rep) {
      ++step;
      if (on_progress) {
        farm::v1::Progress progress;
        progress.set_message(
            absl::StrCat(spec.name(), " repetition ", rep + 1, " of ", repetitions));
        progress.set_step(step);
        progress.set_total_steps(total_steps);
        progress.set_workload(spec.name());
        progress.set_repetition(rep + 1);
        progress.set_repetitions(repetitions);
        progress.set_fraction(static_cast<double>(step - 1) / total_steps);
        on_progress(progress);
      }
      absl::StatusOr<std::vector<Sample>> samples = (*workload)->RunOnce();
      if (!samples.ok()) {
        fail(samples.status());
        workload_ok = false;
        step += repetitions - rep - 1;
        break;
      }
      for (const Sample& sample : *samples) by_metric[sample.metric].add_values(sample.value);
    }
    if (!workload_ok) continue;
    const std::string note = (*workload)->note();
    for (const MetricInfo& info : (*workload)->metrics()) {
      farm::v1::Measurement& m = by_metric[info.key];
      m.set_note(note);
      Summarize(&m);
      *result.add_measurements() = std::move(m);
    }
  }
  result.set_succeeded(all_ok);
  if (!all_ok) {
    result.set_failure_reason(absl::StrCat(result.failures_size(), " of ", specs.size(),
                                           " workloads produced no figure"));
  }
  return result;
}

}  // namespace kvmfarm::workloads
