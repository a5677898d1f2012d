#include "tools/farmctl/commands.h"

#include <set>

#include "absl/strings/match.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::farmctl {
namespace {

using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(FarmctlCommandsTest, EveryCommandIsDocumentedAndItsFlagsExist) {
  std::set<std::string> names;
  for (const Command& command : FarmctlCommands()) {
    EXPECT_TRUE(names.insert(command.name).second) << command.name << " twice";
    EXPECT_FALSE(command.help.empty()) << command.name;
    EXPECT_TRUE(absl::StartsWith(command.example, "farmctl " + command.name)) << command.name;
    EXPECT_NE(command.run, nullptr) << command.name;
    for (const std::string& flag : command.flags) {
      EXPECT_THAT(FlagHelp(flag), ::testing::Not(HasSubstr("(undefined)"))) << command.name;
    }
  }
}

TEST(FarmctlCommandsTest, SweepStartHelpShowsItsFlagsAndAnExample) {
  absl::StatusOr<CommandMatch> match = FindCommand(FarmctlCommands(), {"sweep", "start"});
  ASSERT_TRUE(match.ok());
  const std::string help = CommandHelp(*match->command);
  for (const char* flag :
       {"--plan (sweep start: any of capability", "--selector", "--devices", "--workloads",
        "--repetitions", "--max-parallel", "--image", "--watch", "--controller"}) {
    EXPECT_THAT(help, HasSubstr(flag));
  }
  EXPECT_THAT(help, HasSubstr("Example:\n  farmctl sweep start "));
  EXPECT_THAT(help, ::testing::Not(HasSubstr("--group-by")));
}

TEST(FarmctlCommandsTest, UsageListsEveryCommand) {
  const std::string usage = FarmctlUsage();
  EXPECT_THAT(usage, HasSubstr("farmctl report [--out report.html]"));
  for (const Command& command : FarmctlCommands()) {
    EXPECT_THAT(usage, HasSubstr("farmctl " + command.name)) << command.name;
  }
  EXPECT_THAT(usage, HasSubstr("2 bad command line"));
}

TEST(FarmctlCommandsTest, UnknownSubcommandsListTheKnownOnes) {
  EXPECT_THAT(FindCommand(FarmctlCommands(), {"sweep", "pause"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "sweep takes start, watch, list, show or cancel"));
  EXPECT_THAT(FindCommand(FarmctlCommands(), {"device", "reboot", "pixel-8"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "device takes show, history, set-state, reserve or release"));
  EXPECT_THAT(FindCommand(FarmctlCommands(), {"schedule", "pause"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "schedule takes add, list or delete"));
}

}  // namespace
}  // namespace kvmfarm::farmctl
