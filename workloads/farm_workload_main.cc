// farm-workload: runs kvmfarm's benchmark kernels and prints the result.
//
//   farm-workload --json                                  all workloads, defaults
//   farm-workload --workloads=crypto,integer --repetitions=5 --size=64M --json
//
// A fully static binary: it runs inside a busybox initramfs and on Android. The
// JSON document (farm.v1.BenchmarkResult, protobuf JSON mapping) goes to stdout;
// progress goes to stderr as "FARM_PROGRESS <farm.v1.Progress JSON>" lines
// (workloads/console_protocol.h), which the agent streams on. Exit codes: 0 every workload produced
// its figures, 1 some failed (the JSON lists why), 2 bad arguments.
#include <google/protobuf/util/json_util.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/flags.h"
#include "common/status_macros.h"
#include "workloads/catalog.h"
#include "workloads/console_protocol.h"
#include "workloads/guest_clock.h"
#include "workloads/runner.h"
#include "workloads/workload.h"

ABSL_FLAG(std::string, workloads, "",
          "Comma-separated workloads to run (default: all): crypto, integer, float, "
          "mem_read, mem_write, mem_random, io.");
ABSL_FLAG(int32_t, repetitions, 3, "Repetitions of each workload, back to back.");
ABSL_FLAG(std::string, size, "",
          "Size in bytes for crypto, mem_*, io, with K/M/G suffixes: one value for "
          "all (\"64M\") or per workload (\"crypto=16M,io=32M\").");
ABSL_FLAG(std::string, iterations, "",
          "Fixed work for integer (passes), float (n-body steps), mem_read/mem_write "
          "(best-of passes), mem_random (chase steps): one value or per workload.");
ABSL_FLAG(std::string, dir, "",
          "Directory for the io workload's file (default $TMPDIR or /tmp; must be on a "
          "disk, not tmpfs).");
ABSL_FLAG(bool, json, false, "Print the farm.v1.BenchmarkResult as JSON.");
ABSL_FLAG(bool, list, false, "List the workloads and their metrics, then exit.");
ABSL_FLAG(bool, clocks, false,
          "Print the CPU's counter and the kernel's monotonic clock at one instant "
          "(FARM_CLOCKS, for a guest's boot stages), then exit.");

namespace kvmfarm::workloads {
namespace {

absl::StatusOr<uint64_t> ParseAmount(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  uint64_t multiplier = 1;
  if (!text.empty()) {
    switch (absl::ascii_toupper(text.back())) {
      case 'K':
        multiplier = 1ull << 10;
        break;
      case 'M':
        multiplier = 1ull << 20;
        break;
      case 'G':
        multiplier = 1ull << 30;
        break;
      default:
        break;
    }
    if (multiplier != 1) text.remove_suffix(1);
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a number"));
  }
  return value * multiplier;
}

// A flag's value per workload name; "" for the one that applies to every workload.
using PerWorkload = std::map<std::string, uint64_t>;

// "64M" -> {"": 64M}; "crypto=16M,io=1G" -> {"crypto": 16M, "io": 1G}.
absl::StatusOr<PerWorkload> ParsePerWorkload(const std::string& flag, const std::string& text) {
  PerWorkload out;
  if (text.empty()) return out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    const bool named = item.find('=') != absl::string_view::npos;
    absl::StatusOr<uint64_t> value = ParseAmount(named ? kv.second : kv.first);
    if (!value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", value.status().message()));
    }
    out[named ? kv.first : ""] = *value;
  }
  return out;
}

absl::StatusOr<std::vector<farm::v1::WorkloadSpec>> SpecsFromFlags() {
  std::vector<std::string> names;
  const std::string list = absl::GetFlag(FLAGS_workloads);
  if (list.empty()) {
    names = AllWorkloadNames();
  } else {
    names = absl::StrSplit(list, ',', absl::SkipEmpty());
  }
  ASSIGN_OR_RETURN(const PerWorkload sizes, ParsePerWorkload("size", absl::GetFlag(FLAGS_size)));
  ASSIGN_OR_RETURN(const PerWorkload iterations,
                   ParsePerWorkload("iterations", absl::GetFlag(FLAGS_iterations)));
  // A value named for this workload, else the unnamed one, else none.
  auto pick = [](const PerWorkload& values, const std::string& name) -> absl::optional<uint64_t> {
    auto it = values.find(name);
    if (it != values.end()) return it->second;
    it = values.find("");
    if (it != values.end()) return it->second;
    return absl::nullopt;
  };
  std::vector<farm::v1::WorkloadSpec> specs;
  for (const std::string& name : names) {
    farm::v1::WorkloadSpec spec;
    spec.set_name(name);
    // Only the parameters the workload takes: "--size=64M" sizes every sized one.
    if (const WorkloadInfo* info = FindWorkload(name)) {
      if (info->size_bytes) {
        if (auto v = pick(sizes, name)) spec.set_size_bytes(*v);
      }
      if (info->iterations) {
        if (auto v = pick(iterations, name)) spec.set_iterations(*v);
      }
    }
    // Reject bad names and sizes before anything runs.
    RETURN_IF_ERROR(ValidateWorkloadSpec(spec));
    specs.push_back(spec);
  }
  for (const auto* values : {&sizes, &iterations}) {
    for (const auto& [name, value] : *values) {
      if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("a size or iteration count names '", name,
                         "', which is not among the workloads to run"));
      }
    }
  }
  return specs;
}

void PrintTable(const farm::v1::BenchmarkResult& result) {
  std::printf("%-24s %-6s %12s %12s %12s  %s\n", "metric", "unit", "median", "min", "max", "reps");
  for (const farm::v1::Measurement& m : result.measurements()) {
    std::printf("%-24s %-6s %12.4g %12.4g %12.4g  %d\n", m.metric().c_str(), m.unit().c_str(),
                m.median(), m.min(), m.max(), m.values_size());
  }
  for (const farm::v1::WorkloadFailure& f : result.failures()) {
    std::printf("%-24s FAILED: %s\n", f.workload().c_str(), f.reason().c_str());
  }
}

int Main() {
  if (absl::GetFlag(FLAGS_clocks)) {
    const absl::StatusOr<GuestClocks> clocks = ReadGuestClocks();
    if (!clocks.ok()) {
      std::cerr << "farm-workload: " << clocks.status().message() << "\n";
      return 1;
    }
    std::cout << FormatClocksLine(*clocks) << std::endl;
    return 0;
  }
  if (absl::GetFlag(FLAGS_list)) {
    for (const std::string& name : AllWorkloadNames()) {
      farm::v1::WorkloadSpec spec;
      spec.set_name(name);
      std::unique_ptr<Workload> workload = *MakeWorkload(spec);
      std::vector<std::string> metrics;
      for (const MetricInfo& m : workload->metrics()) {
        metrics.push_back(absl::StrCat(m.key, " (", m.unit, ")"));
      }
      std::vector<std::string> params;
      for (const auto& [k, v] : workload->parameters()) params.push_back(k + "=" + v);
      std::printf("%-11s %s; defaults %s\n", name.c_str(), absl::StrJoin(metrics, ", ").c_str(),
                  absl::StrJoin(params, " ").c_str());
    }
    return 0;
  }
  if (absl::GetFlag(FLAGS_repetitions) < 1) {
    std::cerr << "farm-workload: --repetitions must be at least 1\n";
    return 2;
  }
  absl::StatusOr<std::vector<farm::v1::WorkloadSpec>> specs = SpecsFromFlags();
  if (!specs.ok()) {
    std::cerr << "farm-workload: " << specs.status().message() << "\n";
    return 2;
  }
  SetIoDirectory(absl::GetFlag(FLAGS_dir));
  const farm::v1::BenchmarkResult result =
      RunWorkloads(*specs, static_cast<uint32_t>(absl::GetFlag(FLAGS_repetitions)),
                   [](const farm::v1::Progress& progress) {
                     const std::string line = FormatProgressLine(progress);
                     if (!line.empty()) std::fprintf(stderr, "%s\n", line.c_str());
                   });
  for (const farm::v1::WorkloadFailure& f : result.failures()) {
    std::fprintf(stderr, "farm-workload: %s: %s\n", f.workload().c_str(), f.reason().c_str());
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(result, &json).ok()) {
      std::cerr << "farm-workload: cannot print the result as JSON\n";
      return 1;
    }
    std::cout << json << "\n";
  } else {
    PrintTable(result);
  }
  return result.succeeded() ? 0 : 1;
}

}  // namespace
}  // namespace kvmfarm::workloads

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kvmfarm's benchmark kernels, natively or inside a guest.\n\n"
      "  farm-workload --json\n"
      "  farm-workload --workloads=crypto,mem_read --repetitions=5 --size=64M --json\n"
      "  farm-workload --list\n"
      "  farm-workload --clocks\n\n"
      "JSON (farm.v1.BenchmarkResult) on stdout, FARM_PROGRESS lines on stderr. Exit 0: "
      "all figures; 1: some workload failed (listed in the JSON); 2: bad arguments.");
  kvmfarm::ParseFlagsOnly(argc, argv, "farm-workload");
  return kvmfarm::workloads::Main();
}
