#include "workloads/console_protocol.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "common/testing/run_binary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::workloads {
namespace {

using ::testing::Contains;

TEST(ConsoleProtocolTest, TheBootMarkerCarriesUptimeMemoryAndTheGuestClock) {
  const ConsoleEvent event =
      ParseConsoleLine("FARM_BOOTED uptime=0.84 mem_used_kb=10240 clock_ns=843417252");
  EXPECT_EQ(event.kind, ConsoleEvent::kBooted);
  EXPECT_DOUBLE_EQ(event.uptime_seconds, 0.84);
  EXPECT_EQ(event.mem_used_kb, 10240);
  EXPECT_EQ(event.clock_ns, 843417252);
}

TEST(ConsoleProtocolTest, AnOldImagesBootMarkerHasNoClock) {
  const ConsoleEvent event = ParseConsoleLine("FARM_BOOTED uptime=0.84 mem_used_kb=10240");
  EXPECT_EQ(event.kind, ConsoleEvent::kBooted);
  EXPECT_EQ(event.clock_ns, 0);
}

TEST(ConsoleProtocolTest, TheReadyMarkerCarriesTheGuestClock) {
  const ConsoleEvent event = ParseConsoleLine("FARM_READY clock_ns=901000000");
  EXPECT_EQ(event.kind, ConsoleEvent::kReady);
  EXPECT_EQ(event.clock_ns, 901000000);
  EXPECT_EQ(ParseConsoleLine("[ 1.0] x FARM_READY clock_ns=7").clock_ns, 7);
}

TEST(ConsoleProtocolTest, TheClocksLineCarriesBothClocks) {
  const ConsoleEvent event =
      ParseConsoleLine("FARM_CLOCKS counter_ns=955000000 clock_ns=880000000");
  EXPECT_EQ(event.kind, ConsoleEvent::kClocks);
  EXPECT_EQ(event.counter_ns, 955000000);
  EXPECT_EQ(event.clock_ns, 880000000);
}

TEST(ConsoleProtocolTest, ANegativeOrGarbledClockIsZero) {
  EXPECT_EQ(ParseConsoleLine("FARM_READY clock_ns=-5").clock_ns, 0);
  EXPECT_EQ(ParseConsoleLine("FARM_READY clock_ns=12abc").clock_ns, 0);
  EXPECT_EQ(ParseConsoleLine("FARM_READY clock_ns=99999999999999999999999").clock_ns, 0);
  EXPECT_EQ(ParseConsoleLine("FARM_BOOTED uptime=-1 mem_used_kb=-3").uptime_seconds, 0);
}

TEST(ConsoleProtocolTest, AMalformedBootFigureIsZeroNotGarbage) {
  const ConsoleEvent event =
      ParseConsoleLine("FARM_BOOTED uptime=1.2.3x mem_used_kb=99999999999999999999");
  EXPECT_EQ(event.kind, ConsoleEvent::kBooted);
  EXPECT_EQ(event.uptime_seconds, 0);
  EXPECT_EQ(event.mem_used_kb, 0);
}

TEST(ConsoleProtocolTest, TheBootMarkerCountsInTheMiddleOfAKernelLine) {
  const ConsoleEvent event =
      ParseConsoleLine("[    0.912] random: crng initFARM_BOOTED uptime=0.91 mem_used_kb=7");
  EXPECT_EQ(event.kind, ConsoleEvent::kBooted);
  EXPECT_DOUBLE_EQ(event.uptime_seconds, 0.91);
  EXPECT_EQ(event.mem_used_kb, 7);
}

TEST(ConsoleProtocolTest, ResultMarkersAreWholeLines) {
  EXPECT_EQ(ParseConsoleLine("FARM_RESULT_BEGIN").kind, ConsoleEvent::kResultBegin);
  EXPECT_EQ(ParseConsoleLine("FARM_RESULT_END").kind, ConsoleEvent::kResultEnd);
  EXPECT_EQ(ParseConsoleLine("FARM_RESULT_BEGIN now").kind, ConsoleEvent::kText);
  EXPECT_EQ(ParseConsoleLine("{\"succeeded\":true}").kind, ConsoleEvent::kText);
}

TEST(ConsoleProtocolTest, EchoAndDiskCarryTheirText) {
  ConsoleEvent echo = ParseConsoleLine("FARM_ECHO switch-0-3");
  EXPECT_EQ(echo.kind, ConsoleEvent::kEcho);
  EXPECT_EQ(echo.text, "switch-0-3");
  EXPECT_EQ(ParseConsoleLine("FARM_ECHO ").text, "");
  ConsoleEvent disk = ParseConsoleLine("FARM_DISK /dev/vda mounted on /mnt");
  EXPECT_EQ(disk.kind, ConsoleEvent::kDisk);
  EXPECT_EQ(disk.text, "/dev/vda mounted on /mnt");
  EXPECT_EQ(ParseConsoleLine("FARM_ECHOES x").kind, ConsoleEvent::kText);
}

TEST(ConsoleProtocolTest, ProgressRoundTrips) {
  farm::v1::Progress progress;
  progress.set_workload("crypto");
  progress.set_message("crypto: repetition 2 of 5");
  progress.set_step(2);
  progress.set_total_steps(5);
  const std::string line = FormatProgressLine(progress);
  EXPECT_EQ(line.rfind("FARM_PROGRESS {", 0), 0u) << line;
  const ConsoleEvent event = ParseConsoleLine(line);
  ASSERT_EQ(event.kind, ConsoleEvent::kProgress);
  EXPECT_EQ(event.progress.workload(), "crypto");
  EXPECT_EQ(event.progress.message(), "crypto: repetition 2 of 5");
  EXPECT_EQ(event.progress.step(), 2u);
  EXPECT_EQ(event.progress.total_steps(), 5u);
}

TEST(ConsoleProtocolTest, ProgressThatDoesNotParseIsMalformed) {
  EXPECT_EQ(ParseConsoleLine("FARM_PROGRESS {not json").kind, ConsoleEvent::kMalformedProgress);
  EXPECT_EQ(ParseConsoleLine("farm-workload: io: no disk").kind, ConsoleEvent::kText);
}

// A FARM_ word in a shell script, and whether `echo` prints it (`echo FARM_X ...` or
// `echo "FARM_X ...`).
struct MarkerUse {
  std::string word;
  bool echoed;
};

std::vector<MarkerUse> FarmWords(const std::string& script) {
  std::vector<MarkerUse> uses;
  for (size_t at = script.find("FARM_"); at != std::string::npos;
       at = script.find("FARM_", at + 1)) {
    size_t end = at;
    while (end < script.size() && (absl::ascii_isupper(script[end]) || script[end] == '_')) ++end;
    absl::string_view before(script.data(), at);
    absl::ConsumeSuffix(&before, "\"");
    const absl::string_view words = absl::StripTrailingAsciiWhitespace(before);
    const bool echoed = words.size() < before.size() && absl::EndsWith(words, "echo");
    uses.push_back({script.substr(at, end - at), echoed});
  }
  return uses;
}

// init.sh is shell and can't include the markers: every FARM_ word it prints must be
// one this library defines, and every marker a guest's init owes must be printed.
TEST(ConsoleProtocolTest, GuestInitPrintsExactlyTheGuestMarkers) {
  std::ifstream in(testing::Runfile("guest_images/init.sh"));
  ASSERT_TRUE(in) << "guest_images/init.sh not in the runfiles";
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<MarkerUse> uses = FarmWords(text.str());
  std::set<std::string> printed;
  for (const MarkerUse& use : uses) {
    if (use.echoed) printed.insert(use.word);
  }
  ASSERT_FALSE(printed.empty());
  for (const std::string& marker : printed) {
    EXPECT_THAT(AllMarkers(), Contains(marker)) << "init.sh prints an unknown " << marker;
  }
  for (const std::string& marker : GuestInitMarkers()) {
    EXPECT_THAT(printed, Contains(marker)) << "init.sh never prints " << marker;
  }
  // Every FARM_ word anywhere in it (comments included) is a known marker too.
  for (const MarkerUse& use : uses) {
    EXPECT_THAT(AllMarkers(), Contains(use.word)) << "init.sh names an unknown " << use.word;
  }
}

// The scanner itself: what counts as printed.
TEST(ConsoleProtocolTest, FarmWordsFindsEchoedMarkers) {
  const std::vector<MarkerUse> uses =
      FarmWords("echo FARM_BOOTED uptime=1\n# FARM_NOTE\n  echo \"FARM_RESULT_END\"\n");
  ASSERT_EQ(uses.size(), 3u);
  EXPECT_EQ(uses[0].word, "FARM_BOOTED");
  EXPECT_TRUE(uses[0].echoed);
  EXPECT_EQ(uses[1].word, "FARM_NOTE");
  EXPECT_FALSE(uses[1].echoed);
  EXPECT_EQ(uses[2].word, "FARM_RESULT_END");
  EXPECT_TRUE(uses[2].echoed);
}

}  // namespace
}  // namespace kvmfarm::workloads
