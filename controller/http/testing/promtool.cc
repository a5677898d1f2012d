#include "controller/http/testing/promtool.h"

#include <memory>

#include "common/subprocess.h"

namespace kvmfarm::http::testing {

std::string PromtoolComplaints(const std::string& text) {
  ProcessSpec spec;
  spec.argv = {"promtool", "check", "metrics"};  // reads stdin
  spec.pipe_stdin = true;
  spec.timeout = absl::Minutes(1);
  absl::StatusOr<std::unique_ptr<Subprocess>> promtool = Subprocess::Start(spec);
  if (!promtool.ok()) return "promtool didn't start (tools/setup.sh installs prometheus)";
  (*promtool)->WriteStdin(text).IgnoreError();  // a failure shows in its exit
  (*promtool)->CloseStdin();
  const ProcessResult result = (*promtool)->Wait();
  if (result.Succeeded()) return "";
  return result.Describe() + ": " + result.stdout_data + result.stderr_data;
}

}  // namespace kvmfarm::http::testing
