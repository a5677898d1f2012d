#include "workloads/catalog.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace kvmfarm::workloads {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kMaxBytes = 64ull << 30;
constexpr uint64_t kMaxSteps = 100000000000ull;

// The memory and io workloads' buffer or file: 256 MiB (well past any last-level
// cache) unless asked otherwise.
constexpr ParameterInfo kBufferBytes = {256 * kMiB, kMiB, kMaxBytes, 64 * kMiB};

std::vector<WorkloadInfo>* MakeCatalog() {
  return new std::vector<WorkloadInfo>{
      {"crypto",
       {{"crypto.sha256", "MB/s", true}, {"crypto.aes256gcm", "MB/s", true}},
       ParameterInfo{256 * kMiB, kCryptoBlockBytes, kMaxBytes, 16 * kMiB},
       absl::nullopt},
      {"integer", {{"integer.time", "s", false}}, absl::nullopt, ParameterInfo{80, 1, 100000, 8}},
      {"float",
       {{"float.time", "s", false}},
       absl::nullopt,
       ParameterInfo{25000000, 1, kMaxSteps, 2500000}},
      {"mem_read",
       {{"mem_read.bandwidth", "MB/s", true}},
       kBufferBytes,
       ParameterInfo{5, 1, 1000, 3}},
      {"mem_write",
       {{"mem_write.bandwidth", "MB/s", true}},
       kBufferBytes,
       ParameterInfo{5, 1, 1000, 3}},
      {"mem_random",
       {{"mem_random.ops", "ops/s", true}, {"mem_random.latency_ns", "ns", false}},
       kBufferBytes,
       ParameterInfo{20000000, 1, kMaxSteps, 2000000}},
      {"io",
       {{"io.write", "MB/s", true}, {"io.read", "MB/s", true}},
       kBufferBytes,
       absl::nullopt,
       /*needs_guest_disk=*/true},
  };
}

// A parameter's value, its default when absent (0 when the workload takes none).
absl::StatusOr<uint64_t> Resolve(const std::string& workload, const char* field,
                                 const absl::optional<ParameterInfo>& info, bool present,
                                 uint64_t value) {
  if (!info.has_value()) return 0;
  if (!present) return info->default_value;
  if (value < info->min || value > info->max) {
    return absl::InvalidArgumentError(absl::StrCat(workload, ": ", field, " ", value,
                                                   " is outside ", info->min, "..", info->max));
  }
  return value;
}

}  // namespace

const std::vector<WorkloadInfo>& WorkloadCatalog() {
  static const std::vector<WorkloadInfo>* catalog = MakeCatalog();
  return *catalog;
}

const std::vector<std::string>& AllWorkloadNames() {
  static const auto* names = [] {
    auto* names = new std::vector<std::string>;
    for (const WorkloadInfo& info : WorkloadCatalog()) names->push_back(info.name);
    return names;
  }();
  return *names;
}

const WorkloadInfo* FindWorkload(absl::string_view name) {
  for (const WorkloadInfo& info : WorkloadCatalog()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

absl::StatusOr<WorkloadParameters> ResolveWorkloadSpec(const farm::v1::WorkloadSpec& spec) {
  const WorkloadInfo* info = FindWorkload(spec.name());
  if (info == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown workload '", spec.name(), "' (known: ",
                                                   absl::StrJoin(AllWorkloadNames(), ", "), ")"));
  }
  WorkloadParameters parameters;
  ASSIGN_OR_RETURN(parameters.size_bytes, Resolve(spec.name(), "size_bytes", info->size_bytes,
                                                  spec.has_size_bytes(), spec.size_bytes()));
  ASSIGN_OR_RETURN(parameters.iterations, Resolve(spec.name(), "iterations", info->iterations,
                                                  spec.has_iterations(), spec.iterations()));
  return parameters;
}

absl::Status ValidateWorkloadSpec(const farm::v1::WorkloadSpec& spec) {
  return ResolveWorkloadSpec(spec).status();
}

std::string DefaultSweepWorkloads() {
  std::vector<std::string> names;
  for (const WorkloadInfo& info : WorkloadCatalog()) {
    if (!info.needs_guest_disk) names.push_back(info.name);
  }
  return absl::StrJoin(names, ",");
}

farm::v1::WorkloadSpec QuickWorkloadSpec(absl::string_view name) {
  farm::v1::WorkloadSpec spec;
  spec.set_name(std::string(name));
  const WorkloadInfo* info = FindWorkload(name);
  if (info == nullptr) return spec;
  if (info->size_bytes.has_value()) spec.set_size_bytes(info->size_bytes->quick);
  if (info->iterations.has_value()) spec.set_iterations(info->iterations->quick);
  return spec;
}

}  // namespace kvmfarm::workloads
