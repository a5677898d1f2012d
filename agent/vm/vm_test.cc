#include "agent/vm/vm.h"

#include <signal.h>

#include <memory>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "common/testing/run_binary.h"
#include "common/testing/wait_for.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

// A Vm destroyed while its "QEMU" (a stand-in that logs to stderr every
// millisecond) still prints: the lines drained after the kill reach a Vm whose
// members still exist, and QEMU is gone. Under --config=asan a member order that
// destroyed the console log before the process is reported as a use after free.
TEST(VmTest, IsDestroyedSafelyWhileQemuStillPrints) {
  VmSpec spec;
  spec.accel = farm::v1::MODE_TCG;
  spec.image.arch = farm::v1::CPU_ARCH_X86_64;
  for (int round = 0; round < 10; ++round) {
    absl::StatusOr<std::unique_ptr<Vm>> vm =
        Vm::Start(spec, kvmfarm::testing::Runfile("common/testing/stderr_chatter"));
    ASSERT_TRUE(vm.ok()) << vm.status();
    ASSERT_TRUE(kvmfarm::testing::WaitFor(
        [&] { return absl::StrContains((*vm)->ConsoleLog(), "[qemu] chatter line"); },
        absl::Seconds(30)));
    const pid_t pid = (*vm)->pid();
    vm->reset();
    EXPECT_NE(::kill(pid, 0), 0) << "QEMU outlived its Vm";
  }
}

}  // namespace
}  // namespace kvmfarm::vm
