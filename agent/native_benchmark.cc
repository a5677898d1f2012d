#include "agent/native_benchmark.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/conditions.h"
#include "agent/environment.h"
#include "agent/job_runner.h"
#include "agent/throttling.h"
#include "agent/workload_flags.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/measurement.h"
#include "common/measurement_conditions.h"
#include "common/process_runner.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "workloads/catalog.h"
#include "workloads/console_protocol.h"

namespace kvmfarm {
namespace {

constexpr size_t kMaxLogBytes = 64 * 1024;

std::vector<std::string> WorkloadArgv(const farm::v1::RunBenchmarkRequest& request,
                                      const NativeBenchmarkOptions& options) {
  std::vector<std::string> argv = {options.workload_binary, "--json",
                                   absl::StrCat("--dir=", options.work_dir)};
  for (const WorkloadFlag& flag : WorkloadFlags(request)) {
    argv.push_back(absl::StrCat("--", flag.name, "=", flag.value));
  }
  return argv;
}

// Energy per workload, summed over its segments: each from the time a workload's
// first progress line arrived to the next workload's (or the end of its run; a
// segment without a workload is a cool-down, energy of none).
void AddEnergy(const std::vector<std::pair<std::string, absl::Duration>>& starts,
               absl::Duration end, farm::v1::BenchmarkResult* result) {
  std::map<std::string, double> by_workload;
  std::vector<std::string> order;
  for (size_t i = 0; i < starts.size(); ++i) {
    if (starts[i].first.empty()) continue;
    const absl::Duration to = i + 1 < starts.size() ? starts[i + 1].second : end;
    absl::optional<double> joules = EnergyJoules(
        {result->environment().begin(), result->environment().end()}, starts[i].second, to);
    if (!joules) continue;
    if (!by_workload.count(starts[i].first)) order.push_back(starts[i].first);
    by_workload[starts[i].first] += *joules;
  }
  const bool any = !order.empty();
  for (const std::string& workload : order) {
    const double joules = by_workload[workload];
    farm::v1::Measurement* m = result->add_measurements();
    m->set_metric(workload + ".energy");
    m->set_unit("J");
    m->set_mode(farm::v1::MODE_NATIVE);
    m->add_values(joules);
    m->set_median(joules);
    m->set_min(joules);
    m->set_max(joules);
    m->set_note("battery |current| x voltage over all repetitions of the workload");
  }
  if (!any) {
    result->add_notes("battery current and voltage not exposed: energy absent");
  }
}

// farm-workload's stderr: progress lines are relayed, and the first of each
// workload marks when it began (for its energy); other lines are the log.
class WorkloadStderr {
 public:
  WorkloadStderr(absl::Time started, const JobRunner* job) : started_(started), job_(job) {}

  void OnLine(absl::string_view line) {
    workloads::ConsoleEvent event = workloads::ParseConsoleLine(line);
    if (event.kind == workloads::ConsoleEvent::kMalformedProgress) return;
    if (event.kind != workloads::ConsoleEvent::kProgress) {
      absl::MutexLock lock(&mu_);
      if (log_.size() < kMaxLogBytes) absl::StrAppend(&log_, line, "\n");
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (repetitions_ > 0 && event.progress.repetition() > 0) {
        // One repetition per farm-workload run (a cool-down between): numbered in
        // the job.
        event.progress.set_repetition(event.progress.repetition() + repetition_offset_);
        event.progress.set_repetitions(repetitions_);
        event.progress.set_message(absl::StrCat(event.progress.workload(), " repetition ",
                                                event.progress.repetition(), " of ", repetitions_));
      }
      const absl::Duration offset = absl::Now() - started_;
      if (starts_.empty() || starts_.back().first != event.progress.workload()) {
        starts_.emplace_back(event.progress.workload(), offset);
      }
      windows_.OnProgress(event.progress, offset);
    }
    job_->Report(event.progress);
  }

  std::vector<std::pair<std::string, absl::Duration>> workload_starts() const {
    absl::MutexLock lock(&mu_);
    return starts_;
  }
  std::string log() const {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  // Runs of one repetition each: the next run's lines are repetition `offset` + 1
  // of `repetitions`. Set between runs, when no line arrives.
  void NumberRepetitions(uint32_t offset, uint32_t repetitions) {
    absl::MutexLock lock(&mu_);
    repetition_offset_ = offset;
    repetitions_ = repetitions;
  }
  // A run of farm-workload ended: its last repetition and its energy segment end
  // here, not at the next run's first line (a cool-down comes between).
  void EndRun() {
    absl::MutexLock lock(&mu_);
    const absl::Duration offset = absl::Now() - started_;
    windows_.Close(offset);
    starts_.emplace_back("", offset);  // no workload: not energy of any
  }
  // When each repetition ran; call once farm-workload is gone.
  std::vector<RepetitionWindow> repetition_windows(absl::Duration end) {
    absl::MutexLock lock(&mu_);
    return windows_.Close(end);
  }

 private:
  const absl::Time started_;
  const JobRunner* job_;
  mutable absl::Mutex mu_;
  uint32_t repetition_offset_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t repetitions_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<std::string, absl::Duration>> starts_ ABSL_GUARDED_BY(mu_);
  std::string log_ ABSL_GUARDED_BY(mu_);
  RepetitionWindows windows_ ABSL_GUARDED_BY(mu_);
};

// The result farm-workload printed, or why there is none.
farm::v1::BenchmarkResult ParseOutcome(const absl::StatusOr<ProcessResult>& outcome,
                                       const JobRunner& job, absl::Duration deadline) {
  farm::v1::BenchmarkResult result;
  if (!outcome.ok()) {
    result.set_succeeded(false);
    result.set_failure_reason(
        absl::StrCat("cannot start farm-workload: ", outcome.status().message()));
    return result;
  }
  if (google::protobuf::util::JsonStringToMessage(outcome->stdout_data, &result).ok()) {
    return result;
  }
  result.Clear();
  result.set_succeeded(false);
  switch (job.end()) {
    case JobEnd::kCancelled:
      result.set_failure_reason("cancelled");
      break;
    case JobEnd::kDeadline:
      result.set_failure_reason(
          absl::StrCat("deadline of ", absl::FormatDuration(deadline), " exceeded"));
      break;
    case JobEnd::kClientGone:
      result.set_failure_reason("cancelled: the client went away");
      break;
    case JobEnd::kFinished:
      result.set_failure_reason(
          absl::StrCat("farm-workload ", outcome->Describe(), " without a result"));
      break;
  }
  return result;
}

// What the agent adds to every native result: the device's samples and energy,
// farm-workload's log, provenance, and notes on what could not be read.
void AddEnvironmentAndProvenance(const std::vector<farm::v1::EnvironmentSample>& samples,
                                 WorkloadStderr& stderr_lines, absl::Duration elapsed,
                                 const NativeBenchmarkOptions& options,
                                 farm::v1::BenchmarkResult* result) {
  for (const farm::v1::EnvironmentSample& s : samples) *result->add_environment() = s;
  AddEnergy(stderr_lines.workload_starts(), elapsed, result);
  MarkThrottled(stderr_lines.repetition_windows(elapsed), samples, options.throttle, result);
  result->set_log(stderr_lines.log());
  farm::v1::Provenance* provenance = result->mutable_provenance();
  provenance->set_agent_version(options.agent_version);
  provenance->set_build_fingerprint(options.build_fingerprint);
  if (samples.empty() || samples.front().cpu_frequency_khz().empty()) {
    result->add_notes("cpufreq not readable: CPU frequencies absent");
  }
}

}  // namespace

absl::Status ValidateBenchmarkRequest(const farm::v1::RunBenchmarkRequest& request) {
  if (request.attempt_id().empty()) {
    return absl::InvalidArgumentError(
        "attempt_id is required: a unique id per try, echoed in every reply");
  }
  if (request.mode() == farm::v1::MODE_UNSPECIFIED) {
    return absl::InvalidArgumentError("mode is required: MODE_NATIVE, MODE_KVM or MODE_TCG");
  }
  if (request.workloads().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("workloads is empty: name at least one of ",
                     absl::StrJoin(workloads::AllWorkloadNames(), ", ")));
  }
  for (int i = 0; i < request.workloads_size(); ++i) {
    const absl::Status valid = workloads::ValidateWorkloadSpec(request.workloads(i));
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("workloads[", i, "]: ", valid.message()));
    }
  }
  if (request.repetitions() > kMaxBenchmarkRepetitions) {
    return absl::InvalidArgumentError(absl::StrCat("repetitions ", request.repetitions(),
                                                   " is above ", kMaxBenchmarkRepetitions));
  }
  if (request.has_deadline()) {
    RETURN_IF_ERROR(CheckedDuration(request.deadline(), "deadline", kMaxJobDeadline).status());
  }
  return ValidateMeasurementConditions(request.conditions(), "conditions");
}

namespace {

bool SameParameters(const farm::v1::Measurement& a, const farm::v1::Measurement& b) {
  return std::map<std::string, std::string>(a.parameters().begin(), a.parameters().end()) ==
         std::map<std::string, std::string>(b.parameters().begin(), b.parameters().end());
}

// Adds one run's figures to `merged`: each value to the measurement of the same
// metric and parameters, failures once.
void MergeRun(const farm::v1::BenchmarkResult& run, farm::v1::BenchmarkResult* merged) {
  if (merged->measurements().empty() && merged->failures().empty()) {
    *merged->mutable_provenance() = run.provenance();
  }
  for (const farm::v1::Measurement& m : run.measurements()) {
    auto same =
        std::find_if(merged->mutable_measurements()->begin(), merged->mutable_measurements()->end(),
                     [&m](const farm::v1::Measurement& other) {
                       return other.metric() == m.metric() && other.mode() == m.mode() &&
                              SameParameters(other, m);
                     });
    if (same == merged->mutable_measurements()->end()) {
      *merged->add_measurements() = m;
    } else {
      same->mutable_values()->Add(m.values().begin(), m.values().end());
      Summarize(&*same);
    }
  }
  for (const std::string& note : run.notes()) merged->add_notes(note);
  if (!run.failure_reason().empty() && merged->failure_reason().empty()) {
    merged->set_failure_reason(run.failure_reason());
  }
  for (const farm::v1::WorkloadFailure& f : run.failures()) {
    const bool known = std::any_of(
        merged->failures().begin(), merged->failures().end(),
        [&f](const farm::v1::WorkloadFailure& other) { return other.workload() == f.workload(); });
    if (!known) *merged->add_failures() = f;
  }
}

// One farm-workload run per repetition, each after the first waiting to cool down
// (conditions.h); the runs' figures merged as one run's would be.
template <typename RunWorkloads>
farm::v1::BenchmarkResult RunWithCoolDowns(const farm::v1::RunBenchmarkRequest& request,
                                           const probe::Sysroot& sysroot, absl::Time deadline,
                                           JobRunner& job, WorkloadStderr& stderr_lines,
                                           const RunWorkloads& run_workloads) {
  const uint32_t repetitions = std::max<uint32_t>(1, request.repetitions());
  farm::v1::RunBenchmarkRequest one = request;
  one.set_repetitions(1);
  const std::optional<int32_t> start =
      HottestMillicelsius(ReadEnvironment(sysroot, absl::ZeroDuration()));
  farm::v1::BenchmarkResult merged;
  merged.set_succeeded(true);
  if (!start) merged.add_notes("no thermal zone exposed: cool-down not possible");
  RealClock clock;
  // The job's deadline bounds the waits too.
  auto sleep_until = [&job, deadline](absl::Time until) {
    job.WaitUntil(
        [](absl::Time by) {
          absl::SleepFor(by - absl::Now());
          return false;
        },
        std::min(until, deadline));
    if (absl::Now() >= deadline && !job.stopped()) job.Stop(JobEnd::kDeadline);
    return !job.stopped();
  };
  for (uint32_t rep = 0; rep < repetitions && !job.stopped(); ++rep) {
    if (rep > 0 && start) {
      const CoolDown cool =
          WaitToCoolDown(sysroot, *start, request.conditions(), clock, sleep_until);
      if (job.stopped()) break;
      if (!cool.note.empty())
        merged.add_notes(absl::StrCat("before repetition ", rep + 1, ": ", cool.note));
    }
    stderr_lines.NumberRepetitions(rep, repetitions);
    const farm::v1::BenchmarkResult run = run_workloads(one);
    stderr_lines.EndRun();
    MergeRun(run, &merged);
    if (!run.succeeded()) merged.set_succeeded(false);
    if (!run.failure_reason().empty() && run.measurements().empty()) break;  // no farm-workload
  }
  if (job.stopped() && merged.failure_reason().empty()) {
    merged.set_succeeded(false);
    merged.set_failure_reason(job.end() == JobEnd::kCancelled  ? "cancelled"
                              : job.end() == JobEnd::kDeadline ? "deadline exceeded"
                                                               : "stopped during a cool-down");
  }
  return merged;
}

}  // namespace

farm::v1::BenchmarkResult RunNativeBenchmark(const farm::v1::RunBenchmarkRequest& request,
                                             const NativeBenchmarkOptions& options,
                                             const JobContext& context) {
  const absl::Time started = absl::Now();
  const absl::Duration deadline = RequestDeadline(request, options.default_deadline);
  const probe::Sysroot sysroot(options.sysroot);
  const farm::v1::MeasurementConditions& conditions = request.conditions();
  JobRunner job(context);
  WorkloadStderr stderr_lines(started, &job);
  SubprocessRunner children;
  ProcessRunner& processes = options.process_runner != nullptr ? *options.process_runner : children;
  auto run_workloads = [&](const farm::v1::RunBenchmarkRequest& what) {
    ProcessSpec spec;
    spec.argv = WorkloadArgv(what, options);
    spec.on_stderr_line = [&stderr_lines](absl::string_view line) { stderr_lines.OnLine(line); };
    return ParseOutcome(job.RunProcess(processes, std::move(spec), started + deadline), job,
                        deadline);
  };

  farm::v1::BenchmarkResult result;
  std::string battery_note;
  const absl::Status battery =
      CheckBattery(ReadEnvironment(sysroot, absl::ZeroDuration()), conditions, &battery_note);
  EnvironmentSampler sampler(sysroot, options.sample_interval);
  sampler.Start();
  if (!battery.ok()) {
    result.set_succeeded(false);
    result.set_failure_reason(std::string(battery.message()));
  } else if (conditions.cool_down_within_celsius() == 0) {
    result = run_workloads(request);
  } else {
    result =
        RunWithCoolDowns(request, sysroot, started + deadline, job, stderr_lines, run_workloads);
  }
  const std::vector<farm::v1::EnvironmentSample> samples = sampler.Stop();
  if (!battery_note.empty()) result.add_notes(battery_note);
  result.set_attempt_id(request.attempt_id());
  result.set_mode(farm::v1::MODE_NATIVE);
  AddEnvironmentAndProvenance(samples, stderr_lines, absl::Now() - started, options, &result);
  *result.mutable_started_at() = ToProtoTimestamp(started);
  *result.mutable_finished_at() = ToProtoTimestamp(absl::Now());
  return result;
}

}  // namespace kvmfarm
