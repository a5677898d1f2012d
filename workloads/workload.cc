#include "workloads/workload.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "workloads/compute.h"
#include "workloads/crypto.h"
#include "workloads/io.h"
#include "workloads/memory.h"

namespace kvmfarm::workloads {
namespace {

std::string& IoDirectory() {
  static auto* dir = new std::string;
  return *dir;
}

// A parameter's value, its default when absent, and its allowed range.
absl::StatusOr<uint64_t> Param(const std::string& workload, const char* field, bool present,
                               uint64_t value, uint64_t fallback, uint64_t min, uint64_t max) {
  if (!present) return fallback;
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(workload, ": ", field, " ", value, " is outside ", min, "..", max));
  }
  return value;
}

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kMaxBytes = 64ull << 30;

}  // namespace

const std::vector<std::string>& AllWorkloadNames() {
  static const auto* names = new std::vector<std::string>{
      "crypto", "integer", "float", "mem_read", "mem_write", "mem_random", "io"};
  return *names;
}

void SetIoDirectory(const std::string& dir) { IoDirectory() = dir; }

absl::StatusOr<std::unique_ptr<Workload>> MakeWorkload(const farm::v1::WorkloadSpec& spec) {
  const std::string& n = spec.name();
  auto size = [&](uint64_t fallback, uint64_t min) {
    return Param(n, "size_bytes", spec.has_size_bytes(), spec.size_bytes(), fallback, min,
                 kMaxBytes);
  };
  auto iterations = [&](uint64_t fallback, uint64_t max) {
    return Param(n, "iterations", spec.has_iterations(), spec.iterations(), fallback, 1, max);
  };
  if (n == "crypto") {
    absl::StatusOr<uint64_t> bytes = size(kCryptoDefaultBytes, kCryptoBlockBytes);
    if (!bytes.ok()) return bytes.status();
    return MakeCryptoWorkload(*bytes);
  }
  if (n == "integer") {
    absl::StatusOr<uint64_t> passes = iterations(kIntegerDefaultPasses, 100000);
    if (!passes.ok()) return passes.status();
    return MakeIntegerWorkload(*passes);
  }
  if (n == "float") {
    absl::StatusOr<uint64_t> steps = iterations(kFloatDefaultSteps, 100000000000ull);
    if (!steps.ok()) return steps.status();
    return MakeFloatWorkload(*steps);
  }
  if (n == "mem_read" || n == "mem_write") {
    absl::StatusOr<uint64_t> bytes = size(kMemoryDefaultBytes, kMiB);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<uint64_t> passes = iterations(kMemoryDefaultPasses, 1000);
    if (!passes.ok()) return passes.status();
    return n == "mem_read" ? MakeMemReadWorkload(*bytes, *passes)
                           : MakeMemWriteWorkload(*bytes, *passes);
  }
  if (n == "mem_random") {
    absl::StatusOr<uint64_t> bytes = size(kMemoryDefaultBytes, kMiB);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<uint64_t> steps = iterations(kRandomDefaultSteps, 100000000000ull);
    if (!steps.ok()) return steps.status();
    return MakeMemRandomWorkload(*bytes, *steps);
  }
  if (n == "io") {
    absl::StatusOr<uint64_t> bytes = size(kIoDefaultBytes, kMiB);
    if (!bytes.ok()) return bytes.status();
    std::string dir = IoDirectory();
    if (dir.empty()) {
      const char* tmp = std::getenv("TMPDIR");
      dir = tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp";
    }
    return MakeIoWorkload(dir, *bytes);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown workload '", n, "' (known: ", absl::StrJoin(AllWorkloadNames(), ", "), ")"));
}

}  // namespace kvmfarm::workloads
