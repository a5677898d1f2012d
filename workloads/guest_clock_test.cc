#include "workloads/guest_clock.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "workloads/console_protocol.h"

namespace kvmfarm::workloads {
namespace {

TEST(GuestClockTest, TicksConvertWithoutOverflow) {
  EXPECT_EQ(TicksToNanoseconds(62'500'000, 62.5e6), 1'000'000'000);
  EXPECT_EQ(TicksToNanoseconds(3'000'000, 3e9), 1'000'000);
  // A year of a 5 GHz TSC: the product overflows 64 bits, the result does not.
  const uint64_t year = uint64_t{5'000'000'000} * 365 * 24 * 3600;
  EXPECT_EQ(TicksToNanoseconds(year, 5e9), int64_t{365} * 24 * 3600 * 1'000'000'000);
}

// On this machine, natively: both clocks are read and move on, and the counter's
// rate is measured the same twice (a natively running counter has counted since the
// machine started, so its reading itself is not checkable here).
TEST(GuestClockTest, BothClocksAreReadAndTheRateIsSteady) {
  const absl::StatusOr<GuestClocks> first = ReadGuestClocks(absl::Milliseconds(5));
  ASSERT_TRUE(first.ok()) << first.status();
  const absl::StatusOr<GuestClocks> second = ReadGuestClocks(absl::Milliseconds(5));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(first->counter_ns, 0);
  EXPECT_GT(second->clock_ns, first->clock_ns);
  const double rate = MeasureCounterRate(absl::Milliseconds(20));
  const double again = MeasureCounterRate(absl::Milliseconds(20));
  ASSERT_GT(rate, 0);
  EXPECT_NEAR(again / rate, 1.0, 0.02) << rate << " then " << again << " ticks/s";
}

TEST(GuestClockTest, TheLineIsTheProtocolsClocksMarker) {
  const ConsoleEvent event = ParseConsoleLine(FormatClocksLine({955000000, 880000000}));
  EXPECT_EQ(event.kind, ConsoleEvent::kClocks);
  EXPECT_EQ(event.counter_ns, 955000000);
  EXPECT_EQ(event.clock_ns, 880000000);
}

}  // namespace
}  // namespace kvmfarm::workloads
