// -----------------------------------------------------------------------------
// File: vm.h
// -----------------------------------------------------------------------------
//
// One running guest: QEMU as a child process (its own process group, parent-death
// signal, no core dumps, always reaped; see common/subprocess.h) with the serial
// console on its stdin/stdout. The console is drained continuously and read with
// workloads/console_protocol.h; the boot marker ("FARM_BOOTED uptime=<s>
// mem_used_kb=<kB> clock_ns=<ns>") is timed on the host's monotonic clock from
// spawn, the guest's clocks on it and the ready and clocks lines split the boot
// into stages (boot_stages.h), and the guest's last lines are kept as evidence.
#ifndef KVMFARM_AGENT_VM_VM_H_
#define KVMFARM_AGENT_VM_VM_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "agent/vm/boot_stages.h"
#include "agent/vm/qemu_command.h"
#include "common/subprocess.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::vm {

class Vm {
 public:
  // Starts QEMU. `on_progress` sees each FARM_PROGRESS line of the console (from
  // another thread).
  static absl::StatusOr<std::unique_ptr<Vm>> Start(
      const VmSpec& spec, const std::string& qemu_binary,
      std::function<void(const farm::v1::Progress&)> on_progress = nullptr);

  // Blocks until the boot marker, QEMU's exit, or `deadline`; true when booted.
  bool WaitForBoot(absl::Time deadline);
  // Blocks until the guest reported the last of its boot's clocks (the ready marker
  // and the clocks line after it), QEMU's exit, or `deadline`; true when it did.
  bool WaitForStages(absl::Time deadline);
  // Blocks until the console shows "FARM_ECHO <token>" or `deadline`.
  bool WaitForEcho(const std::string& token, absl::Time deadline);
  // Blocks until the JSON between FARM_RESULT_BEGIN/END arrived, QEMU exited, or
  // `deadline`; the line, or absent.
  absl::optional<std::string> WaitForResult(absl::Time deadline);

  absl::Status SendLine(const std::string& line);
  // QEMU's resident memory now, from /proc; absent once it exited.
  absl::optional<int64_t> RssKb() const;

  bool booted() const;
  // Whether QEMU is still running.
  bool running() const { return !process_->WaitFor(absl::ZeroDuration()); }
  absl::Duration time_to_userspace() const;  // valid when booted
  double guest_uptime_seconds() const;
  int64_t guest_mem_used_kb() const;
  // The boot's stages once WaitForStages (see SplitBoot for the errors).
  absl::StatusOr<BootStages> stages() const;

  // Kills QEMU (and its group) and reaps it; returns how it ended. Idempotent.
  ProcessResult Stop();
  // Waits up to `timeout` for QEMU to exit by itself, then stops it.
  ProcessResult Finish(absl::Duration timeout);

  std::vector<std::string> LastConsoleLines() const;
  std::string ConsoleLog() const;
  const QemuCommand& command() const { return command_; }
  pid_t pid() const { return process_->pid(); }

 private:
  Vm() = default;
  void OnLine(absl::string_view line);
  // Blocks until `*flag`, QEMU's exit, or `deadline`; returns `*flag`.
  bool WaitForFlag(const bool* flag, absl::Time deadline);

  QemuCommand command_;
  absl::Time started_;
  std::function<void(const farm::v1::Progress&)> on_progress_;
  mutable absl::Mutex mu_;
  bool booted_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration time_to_userspace_ ABSL_GUARDED_BY(mu_);
  double guest_uptime_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t mem_used_kb_ ABSL_GUARDED_BY(mu_) = 0;
  GuestBootClocks clocks_ ABSL_GUARDED_BY(mu_);
  bool clocks_reported_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::string> last_lines_ ABSL_GUARDED_BY(mu_);
  std::string log_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> echoes_ ABSL_GUARDED_BY(mu_);
  bool in_result_ ABSL_GUARDED_BY(mu_) = false;
  absl::optional<std::string> result_ ABSL_GUARDED_BY(mu_);
  absl::optional<ProcessResult> outcome_;
  // Last, so it is destroyed first: destroying a running Vm kills QEMU and drains
  // its last console lines through OnLine, which needs every member above.
  std::unique_ptr<Subprocess> process_;
};

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_VM_H_
