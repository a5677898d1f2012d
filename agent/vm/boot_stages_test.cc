#include "agent/vm/boot_stages.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

// The guest's first instruction 150 ms after spawning QEMU; its kernel's clock
// starts 70 ms later; init's first act at 320 ms on that clock, ready 15 ms later;
// the clocks line read at 340 ms on the kernel's clock (410 ms on the counter).
GuestBootClocks Clocks() {
  GuestBootClocks clocks;
  clocks.booted_clock_ns = 320'000'000;
  clocks.ready_clock_ns = 335'000'000;
  clocks.counter_ns = 410'000'000;
  clocks.counter_clock_ns = 340'000'000;
  return clocks;
}

TEST(BootStagesTest, TheFirstInstructionSplitsTheHostsTime) {
  // The host saw the boot marker 540 ms after spawning QEMU.
  const absl::StatusOr<BootStages> stages = SplitBoot(absl::Milliseconds(540), Clocks());
  ASSERT_TRUE(stages.ok()) << stages.status();
  EXPECT_EQ(stages->vmm_start, absl::Milliseconds(150));
  EXPECT_EQ(stages->kernel, absl::Milliseconds(390));
  EXPECT_EQ(stages->userspace, absl::Milliseconds(15));
  EXPECT_EQ(stages->vmm_start + stages->kernel, absl::Milliseconds(540));
}

TEST(BootStagesTest, AMissingClockIsNotFoundNamingTheLine) {
  GuestBootClocks clocks = Clocks();
  clocks.booted_clock_ns = 0;
  EXPECT_THAT(SplitBoot(absl::Seconds(1), clocks),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("FARM_BOOTED")));
  clocks = Clocks();
  clocks.ready_clock_ns = 0;
  EXPECT_THAT(SplitBoot(absl::Seconds(1), clocks),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("FARM_READY")));
  clocks = Clocks();
  clocks.counter_ns = 0;
  EXPECT_THAT(SplitBoot(absl::Seconds(1), clocks),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("FARM_CLOCKS")));
}

TEST(BootStagesTest, ContradictingClocksAreRefusedNamingThem) {
  GuestBootClocks clocks = Clocks();
  clocks.ready_clock_ns = 300'000'000;
  EXPECT_THAT(SplitBoot(absl::Seconds(1), clocks),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("FARM_READY clock_ns 300000000 is before FARM_BOOTED")));
  // A counter that did not start with the guest (behind the kernel's clock).
  clocks = Clocks();
  clocks.counter_ns = 100'000'000;
  EXPECT_THAT(
      SplitBoot(absl::Seconds(1), clocks),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("did not start with the guest")));
  // The guest counts 390 ms to its marker; the host saw 300 ms in all.
  EXPECT_THAT(SplitBoot(absl::Milliseconds(300), Clocks()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("more than the host's")));
}

TEST(BootStagesTest, TheProtoCarriesEachStage) {
  const farm::v1::BootStages proto =
      ToProto({absl::Milliseconds(150), absl::Milliseconds(390), absl::Milliseconds(15)});
  EXPECT_EQ(proto.vmm_start().nanos(), 150'000'000);
  EXPECT_EQ(proto.kernel().nanos(), 390'000'000);
  EXPECT_EQ(proto.userspace().nanos(), 15'000'000);
}

TEST(BootStagesTest, ABootRecordHasTheStagesOrSaysWhyNot) {
  farm::v1::VmBoot with;
  SetStages(SplitBoot(absl::Milliseconds(540), Clocks()), &with);
  EXPECT_EQ(with.stages().kernel().nanos(), 390'000'000);
  EXPECT_EQ(with.stages_note(), "");
  farm::v1::VmBoot without;
  SetStages(SplitBoot(absl::Milliseconds(540), GuestBootClocks{}), &without);
  EXPECT_FALSE(without.has_stages());
  EXPECT_THAT(without.stages_note(), HasSubstr("no guest clock"));
}

}  // namespace
}  // namespace kvmfarm::vm
