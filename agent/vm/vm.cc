#include "agent/vm/vm.h"

#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "workloads/console_protocol.h"

namespace kvmfarm::vm {
namespace {

constexpr size_t kLastLines = 40;
constexpr size_t kMaxLogBytes = 256 * 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<Vm>> Vm::Start(
    const VmSpec& spec, const std::string& qemu_binary,
    std::function<void(const farm::v1::Progress&)> on_progress) {
  std::unique_ptr<Vm> vm(new Vm());
  ASSIGN_OR_RETURN(vm->command_, BuildQemuCommand(spec, qemu_binary));
  vm->on_progress_ = std::move(on_progress);
  ProcessSpec process;
  process.argv = vm->command_.argv;
  process.pipe_stdin = true;
  process.max_output_bytes = 1 << 20;
  Vm* raw = vm.get();
  process.on_stdout_line = [raw](absl::string_view line) { raw->OnLine(line); };
  process.on_stderr_line = [raw](absl::string_view line) {
    raw->OnLine(absl::StrCat("[qemu] ", line));
  };
  vm->started_ = absl::Now();
  ASSIGN_OR_RETURN(vm->process_, Subprocess::Start(std::move(process)));
  return vm;
}

void Vm::OnLine(absl::string_view raw) {
  const absl::Time now = absl::Now();
  // The serial console ends lines with "\r\n".
  absl::string_view line = absl::StripSuffix(raw, "\r");
  const workloads::ConsoleEvent event = workloads::ParseConsoleLine(line);
  {
    absl::MutexLock lock(&mu_);
    last_lines_.emplace_back(line);
    if (last_lines_.size() > kLastLines) last_lines_.pop_front();
    if (log_.size() < kMaxLogBytes) absl::StrAppend(&log_, line, "\n");
    if (event.kind == workloads::ConsoleEvent::kBooted && !booted_) {
      booted_ = true;
      time_to_userspace_ = now - started_;
      guest_uptime_ = event.uptime_seconds;
      mem_used_kb_ = event.mem_used_kb;
      clocks_.booted_clock_ns = event.clock_ns;
    } else if (event.kind == workloads::ConsoleEvent::kReady && booted_ &&
               clocks_.ready_clock_ns == 0) {
      clocks_.ready_clock_ns = event.clock_ns;
    } else if (event.kind == workloads::ConsoleEvent::kClocks && booted_ && !clocks_reported_) {
      clocks_reported_ = true;
      clocks_.counter_ns = event.counter_ns;
      clocks_.counter_clock_ns = event.clock_ns;
    } else if (event.kind == workloads::ConsoleEvent::kEcho) {
      echoes_.push_back(event.text);
    } else if (event.kind == workloads::ConsoleEvent::kResultBegin) {
      in_result_ = true;
    } else if (event.kind == workloads::ConsoleEvent::kResultEnd) {
      in_result_ = false;
      if (!result_) result_ = "";
    } else if (in_result_) {
      result_ = std::string(line);
    }
  }
  if (event.kind == workloads::ConsoleEvent::kProgress && on_progress_)
    on_progress_(event.progress);
}

bool Vm::WaitForBoot(absl::Time deadline) { return WaitForFlag(&booted_, deadline); }

bool Vm::WaitForStages(absl::Time deadline) { return WaitForFlag(&clocks_reported_, deadline); }

bool Vm::WaitForFlag(const bool* flag, absl::Time deadline) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithDeadline(absl::Condition(flag),
                                std::min(deadline, absl::Now() + absl::Milliseconds(50)))) {
        return true;
      }
    }
    if (absl::Now() >= deadline || process_->WaitFor(absl::ZeroDuration())) {
      absl::MutexLock lock(&mu_);
      return *flag;
    }
  }
}

bool Vm::WaitForEcho(const std::string& token, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto has_echo = [this, &token]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const std::string& e : echoes_) {
      if (e == token) return true;
    }
    return false;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&has_echo), deadline);
}

absl::optional<std::string> Vm::WaitForResult(absl::Time deadline) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return result_.has_value() && !in_result_;
      };
      if (mu_.AwaitWithDeadline(absl::Condition(&done),
                                std::min(deadline, absl::Now() + absl::Milliseconds(100)))) {
        return result_;
      }
    }
    if (absl::Now() >= deadline || process_->WaitFor(absl::ZeroDuration())) {
      absl::MutexLock lock(&mu_);
      if (result_.has_value() && !in_result_) return result_;
      return absl::nullopt;
    }
  }
}

absl::Status Vm::SendLine(const std::string& line) { return process_->WriteStdin(line + "\n"); }

absl::optional<int64_t> Vm::RssKb() const {
  std::ifstream status(absl::StrCat("/proc/", process_->pid(), "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "VmRSS:")) {
      int64_t kb = 0;
      std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (words.size() >= 2 && absl::SimpleAtoi(words[1], &kb)) return kb;
    }
  }
  return absl::nullopt;
}

bool Vm::booted() const {
  absl::MutexLock lock(&mu_);
  return booted_;
}
absl::Duration Vm::time_to_userspace() const {
  absl::MutexLock lock(&mu_);
  return time_to_userspace_;
}
double Vm::guest_uptime_seconds() const {
  absl::MutexLock lock(&mu_);
  return guest_uptime_;
}
int64_t Vm::guest_mem_used_kb() const {
  absl::MutexLock lock(&mu_);
  return mem_used_kb_;
}
absl::StatusOr<BootStages> Vm::stages() const {
  absl::MutexLock lock(&mu_);
  if (!booted_) return absl::FailedPreconditionError("the guest has not reached user space");
  return SplitBoot(time_to_userspace_, clocks_);
}

ProcessResult Vm::Stop() {
  if (!outcome_) {
    process_->Kill();
    outcome_ = process_->Wait();
  }
  return *outcome_;
}

ProcessResult Vm::Finish(absl::Duration timeout) {
  if (!outcome_ && process_->WaitFor(timeout)) outcome_ = process_->Wait();
  return Stop();
}

std::vector<std::string> Vm::LastConsoleLines() const {
  absl::MutexLock lock(&mu_);
  return {last_lines_.begin(), last_lines_.end()};
}

std::string Vm::ConsoleLog() const {
  absl::MutexLock lock(&mu_);
  return log_;
}

}  // namespace kvmfarm::vm
