#include "workloads/workload.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
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

// farm-workload's --dir, else $TMPDIR, else /tmp.
std::string IoDirectoryOrTmp() {
  if (!IoDirectory().empty()) return IoDirectory();
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp";
}

}  // namespace

void SetIoDirectory(const std::string& dir) { IoDirectory() = dir; }

const std::vector<MetricInfo>& Workload::metrics() const {
  static const std::vector<MetricInfo>* const kNone = new std::vector<MetricInfo>();
  const WorkloadInfo* info = FindWorkload(name());
  return info != nullptr ? info->metrics : *kNone;
}

absl::StatusOr<std::unique_ptr<Workload>> MakeWorkload(const farm::v1::WorkloadSpec& spec) {
  ASSIGN_OR_RETURN(const WorkloadParameters p, ResolveWorkloadSpec(spec));
  const std::string& n = spec.name();
  if (n == "crypto") return MakeCryptoWorkload(p.size_bytes);
  if (n == "integer") return MakeIntegerWorkload(p.iterations);
  if (n == "float") return MakeFloatWorkload(p.iterations);
  if (n == "mem_read") return MakeMemReadWorkload(p.size_bytes, p.iterations);
  if (n == "mem_write") return MakeMemWriteWorkload(p.size_bytes, p.iterations);
  if (n == "mem_random") return MakeMemRandomWorkload(p.size_bytes, p.iterations);
  if (n == "io") return MakeIoWorkload(IoDirectoryOrTmp(), p.size_bytes);
  return absl::InternalError(
      absl::StrCat("workload '", n, "' is in the catalog but has no kernel"));
}

}  // namespace kvmfarm::workloads
