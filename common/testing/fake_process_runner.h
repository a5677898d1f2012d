// -----------------------------------------------------------------------------
// File: fake_process_runner.h
// -----------------------------------------------------------------------------
//
// A ProcessRunner (common/process_runner.h) whose children are puppets: a test
// starts code that runs a child, waits for the start, then makes the child print
// lines, exit, or sees that it was killed. No program runs, no time passes that the
// test did not cause.
//
// Example:
//
//   FakeProcessRunner processes;
//   std::thread job([&] { result = runner.RunProcess(processes, spec, deadline); });
//   std::shared_ptr<FakeProcess> child = processes.WaitForStart();
//   child->EmitStderrLine("FARM_PROGRESS {\"message\":\"crypto\"}");
//   child->Exit(0, "{\"succeeded\":true}");
//   job.join();
#ifndef KVMFARM_COMMON_TESTING_FAKE_PROCESS_RUNNER_H_
#define KVMFARM_COMMON_TESTING_FAKE_PROCESS_RUNNER_H_

#include <signal.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/process_runner.h"

namespace kvmfarm::testing {

// One started child, driven by the test.
class FakeProcess {
 public:
  explicit FakeProcess(ProcessSpec spec) : spec_(std::move(spec)) {}

  const ProcessSpec& spec() const { return spec_; }

  // Delivers a line to the spec's line callbacks (the output a real child prints).
  void EmitStdoutLine(absl::string_view line) {
    if (spec_.on_stdout_line) spec_.on_stdout_line(line);
  }
  void EmitStderrLine(absl::string_view line) {
    if (spec_.on_stderr_line) spec_.on_stderr_line(line);
  }

  // The child exits by itself with `exit_code` after printing `stdout_data`.
  void Exit(int exit_code, std::string stdout_data = "") {
    ProcessResult result;
    result.exit_code = exit_code;
    result.stdout_data = std::move(stdout_data);
    Finish(std::move(result));
  }

  // What RunningProcess::Kill does: the child ends by SIGKILL, `killed` set.
  void Kill() {
    ProcessResult result;
    result.term_signal = SIGKILL;
    result.killed = true;
    Finish(std::move(result));
  }

  bool killed() const {
    absl::MutexLock lock(&mu_);
    return result_.killed;
  }
  bool WaitFor(absl::Duration timeout) { return finished_.WaitForNotificationWithTimeout(timeout); }
  ProcessResult Wait() {
    finished_.WaitForNotification();
    absl::MutexLock lock(&mu_);
    return result_;
  }

 private:
  void Finish(ProcessResult result) {
    absl::MutexLock lock(&mu_);
    if (finished_.HasBeenNotified()) return;  // the first end counts
    result_ = std::move(result);
    finished_.Notify();
  }

  const ProcessSpec spec_;
  mutable absl::Mutex mu_;
  ProcessResult result_ ABSL_GUARDED_BY(mu_);
  absl::Notification finished_;
};

class FakeProcessRunner final : public ProcessRunner {
 public:
  // The next Start fails with `status` instead of starting a child.
  void FailNextStart(absl::Status status) {
    absl::MutexLock lock(&mu_);
    next_start_error_ = std::move(status);
  }

  absl::StatusOr<std::unique_ptr<RunningProcess>> Start(ProcessSpec spec) override {
    absl::MutexLock lock(&mu_);
    if (!next_start_error_.ok()) return std::exchange(next_start_error_, absl::OkStatus());
    started_.push_back(std::make_shared<FakeProcess>(std::move(spec)));
    return std::unique_ptr<RunningProcess>(new Handle(started_.back()));
  }

  // Blocks until the `n`th child (counting from 1) started; that child.
  std::shared_ptr<FakeProcess> WaitForStart(size_t n = 1) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return started_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
    return started_[n - 1];
  }

  size_t started() const {
    absl::MutexLock lock(&mu_);
    return started_.size();
  }

 private:
  class Handle final : public RunningProcess {
   public:
    explicit Handle(std::shared_ptr<FakeProcess> process) : process_(std::move(process)) {}
    // Like Subprocess, destroying a running child kills it.
    ~Handle() override { process_->Kill(); }
    void Kill() override { process_->Kill(); }
    bool WaitFor(absl::Duration timeout) override { return process_->WaitFor(timeout); }
    ProcessResult Wait() override { return process_->Wait(); }

   private:
    std::shared_ptr<FakeProcess> process_;
  };

  mutable absl::Mutex mu_;
  absl::Status next_start_error_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<FakeProcess>> started_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm::testing

#endif  // KVMFARM_COMMON_TESTING_FAKE_PROCESS_RUNNER_H_
