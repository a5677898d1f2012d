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
#include "common/status_macros.h"
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

namespace {

// Where a run stands, told to the caller before each step.
class StepCounter {
 public:
  StepCounter(uint32_t total_steps, const ProgressCallback& on_progress)
      : total_steps_(total_steps), on_progress_(on_progress) {}

  void Preparing(const std::string& workload) const {
    if (!on_progress_) return;
    farm::v1::Progress progress = Base(workload, step_ + 1);
    progress.set_message(absl::StrCat("preparing ", workload));
    on_progress_(progress);
  }

  // Counts repetition `rep` (0-based) as started.
  void Repetition(const std::string& workload, uint32_t rep, uint32_t repetitions) {
    ++step_;
    if (!on_progress_) return;
    farm::v1::Progress progress = Base(workload, step_);
    progress.set_message(absl::StrCat(workload, " repetition ", rep + 1, " of ", repetitions));
    progress.set_repetition(rep + 1);
    progress.set_repetitions(repetitions);
    progress.set_fraction(static_cast<double>(step_ - 1) / total_steps_);
    on_progress_(progress);
  }

  uint32_t step() const { return step_; }
  void SkipTo(uint32_t step) { step_ = step; }

 private:
  farm::v1::Progress Base(const std::string& workload, uint32_t step) const {
    farm::v1::Progress progress;
    progress.set_step(step);
    progress.set_total_steps(total_steps_);
    progress.set_workload(workload);
    return progress;
  }

  uint32_t step_ = 0;
  const uint32_t total_steps_;
  const ProgressCallback& on_progress_;
};

// One Measurement per metric of `workload`: named, with unit and parameters, no
// values yet.
std::map<std::string, farm::v1::Measurement> EmptyMeasurements(const Workload& workload) {
  std::map<std::string, farm::v1::Measurement> by_metric;
  for (const MetricInfo& info : workload.metrics()) {
    farm::v1::Measurement& m = by_metric[info.key];
    m.set_metric(info.key);
    m.set_unit(info.unit);
    m.set_higher_is_better(info.higher_is_better);
    m.set_mode(farm::v1::MODE_NATIVE);
    for (const auto& [key, value] : workload.parameters()) {
      (*m.mutable_parameters())[key] = value;
    }
  }
  return by_metric;
}

// Makes, prepares and runs one workload `repetitions` times: its summarised
// measurements in metric order, or why it produced none.
absl::StatusOr<std::vector<farm::v1::Measurement>> RunOneWorkload(
    const farm::v1::WorkloadSpec& spec, uint32_t repetitions, StepCounter* steps) {
  ASSIGN_OR_RETURN(std::unique_ptr<Workload> workload, MakeWorkload(spec));
  steps->Preparing(spec.name());
  RETURN_IF_ERROR(workload->Prepare());
  std::map<std::string, farm::v1::Measurement> by_metric = EmptyMeasurements(*workload);
  for (uint32_t rep = 0; rep < repetitions; ++rep) {
    steps->Repetition(spec.name(), rep, repetitions);
    ASSIGN_OR_RETURN(std::vector<Sample> samples, workload->RunOnce());
    for (const Sample& sample : samples) by_metric[sample.metric].add_values(sample.value);
  }
  std::vector<farm::v1::Measurement> measurements;
  for (const MetricInfo& info : workload->metrics()) {
    farm::v1::Measurement& m = by_metric[info.key];
    m.set_note(workload->note());
    Summarize(&m);
    measurements.push_back(std::move(m));
  }
  return measurements;
}

}  // namespace

farm::v1::BenchmarkResult RunWorkloads(const std::vector<farm::v1::WorkloadSpec>& specs,
                                       uint32_t repetitions, const ProgressCallback& on_progress) {
  if (repetitions == 0) repetitions = 1;
  farm::v1::BenchmarkResult result;
  result.set_mode(farm::v1::MODE_NATIVE);
  *result.mutable_provenance() = WorkloadProvenance();
  StepCounter steps(static_cast<uint32_t>(specs.size()) * repetitions, on_progress);
  for (const farm::v1::WorkloadSpec& spec : specs) {
    // A workload that fails still counts all its steps, so progress stays true.
    const uint32_t next_workload_step = steps.step() + repetitions;
    absl::StatusOr<std::vector<farm::v1::Measurement>> measurements =
        RunOneWorkload(spec, repetitions, &steps);
    if (!measurements.ok()) {
      farm::v1::WorkloadFailure* failure = result.add_failures();
      failure->set_workload(spec.name());
      failure->set_reason(std::string(measurements.status().message()));
      steps.SkipTo(next_workload_step);
      continue;
    }
    for (farm::v1::Measurement& m : *measurements) *result.add_measurements() = std::move(m);
  }
  result.set_succeeded(result.failures_size() == 0);
  if (!result.succeeded()) {
    result.set_failure_reason(absl::StrCat(result.failures_size(), " of ", specs.size(),
                                           " workloads produced no figure"));
  }
  return result;
}

}  // namespace kvmfarm::workloads
