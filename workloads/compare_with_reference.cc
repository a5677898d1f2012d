// Checks kvmfarm's kernels against established tools on this machine, in one run,
// and prints the ratio of each pair:
//   crypto.sha256 / crypto.aes256gcm   vs  openssl speed -evp ... -bytes 16384
//   mem_read / mem_write bandwidth     vs  sysbench memory (256 MiB blocks, 1 thread)
// Targets: crypto >= 95 %, sequential read/write >= 90 % of the reference.
//
//   bazel run //workloads:compare_with_reference [-- --rounds=5]
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/measurement.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "workloads/reference_tools.h"
#include "workloads/runner.h"

ABSL_FLAG(int32_t, rounds, 3, "Alternating rounds of ours and theirs; medians compared.");

namespace kvmfarm::workloads {
namespace {

absl::StatusOr<std::string> Output(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = absl::Seconds(120);
  ASSIGN_OR_RETURN(ProcessResult result, RunProcess(spec));
  if (!result.Succeeded()) {
    return absl::InternalError(
        absl::StrCat(spec.argv[0], " ", result.Describe(), ": ", result.stderr_data));
  }
  return result.stdout_data;
}

struct Pair {
  std::string metric;
  std::string reference;
  double target_percent;
  std::vector<double> ours, theirs;
};

int Main() {
  std::vector<Pair> pairs = {
      {"crypto.sha256", "openssl speed -evp sha256 -bytes 16384", 95, {}, {}},
      {"crypto.aes256gcm", "openssl speed -evp aes-256-gcm -bytes 16384", 95, {}, {}},
      {"mem_read.bandwidth", "sysbench memory --memory-oper=read (256 MiB blocks)", 90, {}, {}},
      {"mem_write.bandwidth", "sysbench memory --memory-oper=write (256 MiB blocks)", 90, {}, {}},
  };
  std::vector<farm::v1::WorkloadSpec> specs(3);
  specs[0].set_name("crypto");
  specs[1].set_name("mem_read");
  specs[2].set_name("mem_write");
  const int rounds = std::max(1, absl::GetFlag(FLAGS_rounds));
  for (int round = 1; round <= rounds; ++round) {
    std::fprintf(stderr, "round %d of %d\n", round, rounds);
    const farm::v1::BenchmarkResult ours = RunWorkloads(specs, 1, nullptr);
    if (!ours.succeeded()) {
      std::fprintf(stderr, "compare_with_reference: %s\n", ours.failure_reason().c_str());
      return 1;
    }
    for (const farm::v1::Measurement& m : ours.measurements()) {
      for (Pair& p : pairs) {
        if (p.metric == m.metric()) p.ours.push_back(m.values(0));
      }
    }
    const std::vector<std::vector<std::string>> commands = {
        {"openssl", "speed", "-evp", "sha256", "-bytes", "16384", "-seconds", "3"},
        {"openssl", "speed", "-evp", "aes-256-gcm", "-bytes", "16384", "-seconds", "3"},
        {"sysbench", "memory", "--memory-block-size=256M", "--memory-total-size=16G",
         "--memory-oper=read", "--threads=1", "run"},
        {"sysbench", "memory", "--memory-block-size=256M", "--memory-total-size=16G",
         "--memory-oper=write", "--threads=1", "run"},
    };
    for (size_t i = 0; i < pairs.size(); ++i) {
      absl::StatusOr<std::string> out = Output(commands[i]);
      absl::StatusOr<double> value = !out.ok() ? absl::StatusOr<double>(out.status())
                                     : i == 0  ? ParseOpensslSpeed(*out, "sha256")
                                     : i == 1  ? ParseOpensslSpeed(*out, "AES-256-GCM")
                                               : ParseSysbenchMemory(*out);
      if (!value.ok()) {
        std::fprintf(stderr, "compare_with_reference: %s (run tools/setup.sh)\n",
                     std::string(value.status().message()).c_str());
        return 1;
      }
      pairs[i].theirs.push_back(*value);
    }
  }
  std::printf("%-22s %12s %12s %8s %8s  %s\n", "metric", "ours MB/s", "ref MB/s", "ratio", "target",
              "reference");
  bool all_met = true;
  for (const Pair& p : pairs) {
    const double ours = *Median(p.ours), theirs = *Median(p.theirs);
    const double ratio = 100 * ours / theirs;
    all_met = all_met && ratio >= p.target_percent;
    std::printf("%-22s %12.1f %12.1f %7.1f%% %7.0f%%  %s%s\n", p.metric.c_str(), ours, theirs,
                ratio, p.target_percent, p.reference.c_str(),
                ratio >= p.target_percent ? "" : "  (below target)");
  }
  std::printf("medians of %d rounds; %s\n", rounds,
              all_met ? "every target met" : "some targets missed");
  return 0;
}

}  // namespace
}  // namespace kvmfarm::workloads

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "compares kvmfarm's crypto and memory kernels with openssl speed and sysbench "
      "memory on this machine, printing each pair's ratio.");
  kvmfarm::ParseCommandLineFlags(argc, argv);
  return kvmfarm::workloads::Main();
}
