#include "agent/native_benchmark.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/environment.h"
#include "agent/workload_flags.h"
#include "common/proto_time.h"
#include "common/subprocess.h"
#include "workloads/workload.h"

namespace kvmfarm {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kProgressPrefix[] = "FARM_PROGRESS ";
constexpr size_t kMaxLogBytes = 64 * 1024;
constexpr uint32_t kMaxRepetitions = 1000;

std::vector<std::string> WorkloadArgv(const farm::v1::RunBenchmarkRequest& request,
                                      const NativeBenchmarkOptions& options) {
  std::vector<std::string> argv = {options.workload_binary, "--json",
                                   absl::StrCat("--dir=", options.work_dir)};
  for (const WorkloadFlag& flag : WorkloadFlags(request)) {
    argv.push_back(absl::StrCat("--", flag.name, "=", flag.value));
  }
  return argv;
}

// Energy per workload, from the time each workload's first progress line arrived
// to the next workload's.
void AddEnergy(const std::vector<std::pair<std::string, absl::Duration>>& starts,
               absl::Duration end, farm::v1::BenchmarkResult* result) {
  bool any = false;
  for (size_t i = 0; i < starts.size(); ++i) {
    const absl::Duration to = i + 1 < starts.size() ? starts[i + 1].second : end;
    absl::optional<double> joules = EnergyJoules(
        {result->environment().begin(), result->environment().end()}, starts[i].second, to);
    if (!joules) continue;
    any = true;
    farm::v1::Measurement* m = result->add_measurements();
    m->set_metric(starts[i].first + ".energy");
    m->set_unit("J");
    m->set_mode(farm::v1::MODE_NATIVE);
    m->add_values(*joules);
    m->set_median(*joules);
    m->set_min(*joules);
    m->set_max(*joules);
    m->set_note("battery |current| x voltage over all repetitions of the workload");
  }
  if (!any) {
    result->add_notes("battery current and voltage not exposed: energy absent");
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
    absl::StatusOr<std::unique_ptr<workloads::Workload>> w =
        workloads::MakeWorkload(request.workloads(i));
    if (!w.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("workloads[", i, "]: ", w.status().message()));
    }
  }
  if (request.repetitions() > kMaxRepetitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("repetitions ", request.repetitions(), " is above ", kMaxRepetitions));
  }
  if (request.has_deadline() && TimeUtil::DurationToNanoseconds(request.deadline()) <= 0) {
    return absl::InvalidArgumentError("deadline must be positive");
  }
  return absl::OkStatus();
}

farm::v1::BenchmarkResult RunNativeBenchmark(
    const farm::v1::RunBenchmarkRequest& request, const NativeBenchmarkOptions& options,
    JobSlot::Lease* lease, const std::function<bool()>& client_gone,
    const std::function<void(const farm::v1::Progress&)>& on_progress) {
  const absl::Time started = absl::Now();
  const absl::Duration deadline =
      request.has_deadline()
          ? absl::Nanoseconds(TimeUtil::DurationToNanoseconds(request.deadline()))
          : options.default_deadline;

  absl::Mutex mu;
  std::vector<std::pair<std::string, absl::Duration>> workload_starts;
  std::string log;
  ProcessSpec spec;
  spec.argv = WorkloadArgv(request, options);
  spec.timeout = deadline;
  spec.on_stderr_line = [&](absl::string_view line) {
    if (!absl::StartsWith(line, kProgressPrefix)) {
      absl::MutexLock lock(&mu);
      if (log.size() < kMaxLogBytes) absl::StrAppend(&log, line, "\n");
      return;
    }
    farm::v1::Progress progress;
    if (!google::protobuf::util::JsonStringToMessage(
             std::string(line.substr(sizeof(kProgressPrefix) - 1)), &progress)
             .ok()) {
      return;
    }
    {
      absl::MutexLock lock(&mu);
      if (workload_starts.empty() || workload_starts.back().first != progress.workload()) {
        workload_starts.emplace_back(progress.workload(), absl::Now() - started);
      }
    }
    lease->SetProgress(progress);
    if (on_progress) on_progress(progress);
  };

  farm::v1::BenchmarkResult result;
  EnvironmentSampler sampler(probe::Sysroot("/"), options.sample_interval);
  sampler.Start();
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(spec);
  ProcessResult outcome;
  if (process.ok()) {
    Subprocess* child = process->get();
    lease->OnCancel([child] { child->Kill(); });
    while (!child->WaitFor(absl::Milliseconds(200))) {
      if (client_gone && client_gone()) child->Kill();
    }
    lease->OnCancel(nullptr);  // the child is about to go
    outcome = child->Wait();
  }
  const std::vector<farm::v1::EnvironmentSample> samples = sampler.Stop();

  if (!process.ok()) {
    result.set_succeeded(false);
    result.set_failure_reason(
        absl::StrCat("cannot start farm-workload: ", process.status().message()));
  } else if (!google::protobuf::util::JsonStringToMessage(outcome.stdout_data, &result).ok()) {
    result.Clear();
    result.set_succeeded(false);
    result.set_failure_reason(
        lease->cancelled() ? "cancelled"
        : outcome.timed_out
            ? absl::StrCat("deadline of ", absl::FormatDuration(deadline), " exceeded")
        : outcome.killed ? "cancelled: the client went away"
                         : absl::StrCat("farm-workload ", outcome.Describe(), " without a result"));
  }
  result.set_attempt_id(request.attempt_id());
  result.set_mode(farm::v1::MODE_NATIVE);
  for (const farm::v1::EnvironmentSample& s : samples) *result.add_environment() = s;
  {
    absl::MutexLock lock(&mu);
    AddEnergy(workload_starts, absl::Now() - started, &result);
    result.set_log(log);
  }
  farm::v1::Provenance* provenance = result.mutable_provenance();
  provenance->set_agent_version(options.agent_version);
  provenance->set_build_fingerprint(options.build_fingerprint);
  if (samples.empty() || samples.front().cpu_frequency_khz().empty()) {
    result.add_notes("cpufreq not readable: CPU frequencies absent");
  }
  *result.mutable_started_at() = ToProtoTimestamp(started);
  *result.mutable_finished_at() = ToProtoTimestamp(absl::Now());
  return result;
}

}  // namespace kvmfarm
