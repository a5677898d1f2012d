#include "workloads/console_protocol.h"

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "common/testing/run_binary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::workloads {
namespace {

using ::testing::Contains;

TEST(ConsoleProtocolTest, TheBootMarkerCarriesUptimeAndMemory) {
  const ConsoleEvent event = ParseConsoleLine("FARM_BOOTED uptime=0.84 mem_used_kb=10240");
  EXPECT_EQ(event.kind, ConsoleEvent::kBooted);
  EXPECT_DOUBLE_EQ(event.uptime_seconds, 0.84);
  EXPECT_EQ(event.mem_used_kb, 10240);
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

// init.sh is shell and can't include the markers: every FARM_ word it prints must be
// one this library defines, and every marker a guest's init owes must be printed.
TEST(ConsoleProtocolTest, GuestInitPrintsExactlyTheGuestMarkers) {
  std::ifstream in(testing::Runfile("guest_images/init.sh"));
  ASSERT_TRUE(in) << "guest_images/init.sh not in the runfiles";
  std::stringstream text;
  text << in.rdbuf();
  const std::string script = text.str();
  std::set<std::string> printed;
  const std::regex echo_line(R"(echo\s+"?(FARM_[A-Z_]+))");
  for (std::sregex_iterator it(script.begin(), script.end(), echo_line), end; it != end; ++it) {
    printed.insert((*it)[1]);
  }
  ASSERT_FALSE(printed.empty());
  for (const std::string& marker : printed) {
    EXPECT_THAT(AllMarkers(), Contains(marker)) << "init.sh prints an unknown " << marker;
  }
  for (const std::string& marker : GuestInitMarkers()) {
    EXPECT_THAT(printed, Contains(marker)) << "init.sh never prints " << marker;
  }
  // Every FARM_ word anywhere in it (comments included) is a known marker too.
  const std::regex any_marker(R"(FARM_[A-Z_]+)");
  for (std::sregex_iterator it(script.begin(), script.end(), any_marker), end; it != end; ++it) {
    EXPECT_THAT(AllMarkers(), Contains(it->str())) << "init.sh names an unknown " << it->str();
  }
}

}  // namespace
}  // namespace kvmfarm::workloads
