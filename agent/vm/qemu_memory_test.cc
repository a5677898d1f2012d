#include "agent/vm/qemu_memory.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::vm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

std::string Mapping(absl::string_view header, int64_t size_kb, int64_t rss_kb) {
  return absl::StrCat(header, "\nSize:           ", size_kb, " kB\nKernelPageSize:        4 kB\n",
                      "Rss:            ", rss_kb, " kB\nPss:            ", rss_kb, " kB\n");
}

// Shaped as a TCG microvm QEMU with 256 MiB of RAM on this machine: the binary,
// the kernel file QEMU maps, the guest's RAM, and the TCG code buffer.
std::string TcgQemuSmaps() {
  return absl::StrCat(
      Mapping("563d52090000-563d52497000 r--p 00000000 fe:00 10977347   "
              "/usr/bin/qemu-system-x86_64",
              4124, 4124),
      Mapping("7f2fb0a00000-7f2fb3cc7000 rw-p 00000000 fe:00 11109275   /images/x86_64/kernel",
              51996, 45376),
      Mapping("7f2fb3e00000-7f2fc3e00000 rw-p 00000000 00:00 0 ", 262144, 92160),
      Mapping("7f2fc4000000-7f3003fff000 rwxp 00000000 00:00 0 ", 1048572, 36864),
      Mapping("7ffd1e2a3000-7ffd1e2c4000 rw-p 00000000 00:00 0                          [stack]",
              132, 40));
}

TEST(ParseQemuSmapsTest, SplitsTheGuestsRamFromQemusOwnMemory) {
  absl::StatusOr<QemuMemory> memory = ParseQemuSmaps(TcgQemuSmaps(), 256 * 1024);
  ASSERT_THAT(memory, IsOk());
  EXPECT_EQ(memory->rss_kb, 4124 + 45376 + 92160 + 36864 + 40);
  EXPECT_EQ(memory->guest_ram_kb, 262144);
  EXPECT_EQ(memory->guest_ram_resident_kb, 92160);
  EXPECT_EQ(memory->own_kb(), 4124 + 45376 + 36864 + 40);
  // 86,404 kB of QEMU's own against 262,144 kB of guest RAM.
  EXPECT_NEAR(memory->OverheadPercent(), 32.96, 0.01);
}

TEST(ParseQemuSmapsTest, ANamedOrStackMappingIsNeverTheGuestsRam) {
  // The [stack] of exactly the RAM's size is named; the kernel file has an inode.
  const std::string smaps =
      absl::StrCat(Mapping("7ffd1e2a3000-7ffd1e2c4000 rw-p 00000000 00:00 0   [stack]", 1024, 8),
                   Mapping("7f2fb0a00000-7f2fb3cc7000 rw-p 00000000 fe:00 11109275   /k", 1024, 9),
                   Mapping("7f2fb3e00000-7f2fc3e00000 rw-p 00000000 00:00 0 ", 1028, 500));
  EXPECT_THAT(ParseQemuSmaps(smaps, 1024).value().guest_ram_resident_kb, 500);
}

TEST(ParseQemuSmapsTest, TheTcgCodeBufferIsNeverTheGuestsRam) {
  // A 1 GiB guest: the rwx code buffer of about that size comes first.
  const std::string smaps =
      absl::StrCat(Mapping("7f2fc4000000-7f3003fff000 rwxp 00000000 00:00 0 ", 1048572, 36864),
                   Mapping("7f3004000000-7f3044000000 rw-p 00000000 00:00 0 ", 1048576, 200000));
  EXPECT_EQ(ParseQemuSmaps(smaps, 1048576).value().guest_ram_resident_kb, 200000);
}

TEST(ParseQemuSmapsTest, NoMappingOfTheRamsSizeIsNotFound) {
  EXPECT_THAT(ParseQemuSmaps(TcgQemuSmaps(), 512 * 1024),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("524288 kB")));
}

TEST(ParseQemuSmapsTest, TextThatIsNotSmapsIsRefused) {
  EXPECT_THAT(ParseQemuSmaps("", 1024), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseQemuSmaps("Rss: 12 kB\n", 1024),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Rss: 12 kB")));
  EXPECT_THAT(ParseQemuSmaps("7f2f-7f30 rw-p 0 00:00 0\nRss: lots kB\n", 1024),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("lots")));
  EXPECT_THAT(ParseQemuSmaps(TcgQemuSmaps(), 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ReadQemuMemoryTest, AProcessThatIsGoneIsNotFound) {
  EXPECT_THAT(ReadQemuMemory(999999999, 1024), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace kvmfarm::vm
