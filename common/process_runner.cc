#include "common/process_runner.h"

#include <utility>

#include "common/status_macros.h"

namespace kvmfarm {
namespace {

class RunningSubprocess final : public RunningProcess {
 public:
  explicit RunningSubprocess(std::unique_ptr<Subprocess> process) : process_(std::move(process)) {}
  void Kill() override { process_->Kill(); }
  bool WaitFor(absl::Duration timeout) override { return process_->WaitFor(timeout); }
  ProcessResult Wait() override { return process_->Wait(); }

 private:
  std::unique_ptr<Subprocess> process_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RunningProcess>> SubprocessRunner::Start(ProcessSpec spec) {
  ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(std::move(spec)));
  return std::unique_ptr<RunningProcess>(new RunningSubprocess(std::move(process)));
}

}  // namespace kvmfarm
