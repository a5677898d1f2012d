#include "tools/farmctl/command_table.h"

#include "absl/flags/flag.h"
#include "absl/strings/str_split.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

ABSL_FLAG(std::string, test_colour, "blue", "paint: the colour to use.");
ABSL_FLAG(int32_t, test_coats, 2, "paint: coats of it.");
ABSL_FLAG(bool, test_dry_run, false,
          "Every command: say what would be done and do nothing, which is handy when one wants "
          "to see a long help text wrapped at eighty columns.");

namespace kvmfarm::farmctl {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

int Succeed(const Invocation&) { return 0; }

const std::vector<Command>& TestCommands() {
  static const auto* commands = new std::vector<Command>{
      {"paint",
       "WALL [--test-colour C]",
       "Paints a wall.",
       {"test_colour", "test_coats"},
       "farmctl paint north --test-colour red",
       &Succeed},
      {"wall show", "WALL", "One wall.", {}, "farmctl wall show north", &Succeed},
      {"wall list", "", "Every wall.", {"test_dry_run"}, "farmctl wall list", &Succeed},
      {"wall paint", "WALL", "Paints it.", {}, "farmctl wall paint north", &Succeed},
  };
  return *commands;
}

TEST(FindCommandTest, OneAndTwoWordNamesWithTheirOperands) {
  absl::StatusOr<CommandMatch> match = FindCommand(TestCommands(), {"paint", "north", "south"});
  ASSERT_THAT(match, IsOk());
  EXPECT_EQ(match->command->name, "paint");
  EXPECT_THAT(match->operands, ElementsAre("north", "south"));
  match = FindCommand(TestCommands(), {"wall", "show", "north"});
  ASSERT_THAT(match, IsOk());
  EXPECT_EQ(match->command->name, "wall show");
  EXPECT_THAT(match->operands, ElementsAre("north"));
  match = FindCommand(TestCommands(), {"wall", "list"});
  ASSERT_THAT(match, IsOk());
  EXPECT_TRUE(match->operands.empty());
}

TEST(FindCommandTest, UnknownCommandsAndSubcommandsAreNamed) {
  EXPECT_THAT(FindCommand(TestCommands(), {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "no command"));
  EXPECT_THAT(FindCommand(TestCommands(), {"frobnicate"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown command 'frobnicate'"));
  EXPECT_THAT(FindCommand(TestCommands(), {"wall", "knock"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "wall takes show, list or paint"));
  EXPECT_THAT(FindCommand(TestCommands(), {"wall"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "wall takes show, list or paint"));
}

TEST(FlagHelpTest, LikeAbslWithDashes) {
  EXPECT_EQ(FlagHelp("test_colour"),
            "    --test-colour (paint: the colour to use.); default: \"blue\";\n");
  EXPECT_EQ(FlagHelp("test_coats"), "    --test-coats (paint: coats of it.); default: 2;\n");
  EXPECT_EQ(FlagHelp("no_such_flag"), "    --no-such-flag (undefined)\n");
}

TEST(FlagHelpTest, LongHelpIsWrappedAtEightyColumns) {
  const std::string help = FlagHelp("test_dry_run");
  EXPECT_THAT(help, HasSubstr("\n      "));
  for (absl::string_view line : absl::StrSplit(help, '\n')) EXPECT_LE(line.size(), 80u) << line;
  EXPECT_THAT(help, HasSubstr("default: false;"));
}

TEST(CommandHelpTest, SynopsisHelpFlagsAndExample) {
  EXPECT_EQ(CommandHelp(TestCommands()[0]),
            "farmctl paint WALL [--test-colour C]\n"
            "\n"
            "  Paints a wall.\n"
            "\n"
            "Flags:\n"
            "    --test-colour (paint: the colour to use.); default: \"blue\";\n"
            "    --test-coats (paint: coats of it.); default: 2;\n"
            "\n"
            "Example:\n"
            "  farmctl paint north --test-colour red\n");
  EXPECT_THAT(CommandHelp(TestCommands()[1]), ::testing::Not(HasSubstr("Flags:")));
}

TEST(CommandListTest, EveryCommandWithItsHelpLine) {
  const std::string list = CommandList(TestCommands());
  EXPECT_THAT(list, HasSubstr("  farmctl paint WALL [--test-colour C]\n      Paints a wall.\n"));
  EXPECT_THAT(list, HasSubstr("  farmctl wall list\n      Every wall.\n"));
}

TEST(AllFlagsHelpTest, EachFlagOnceSorted) {
  EXPECT_EQ(AllFlagsHelp(TestCommands()),
            FlagHelp("test_coats") + FlagHelp("test_colour") + FlagHelp("test_dry_run"));
}

std::vector<std::string> Strings(const std::vector<char*>& argv) {
  return std::vector<std::string>(argv.begin(), argv.end());
}

TEST(RemoveHelpFlagTest, TakesHelpOutWhereverItIs) {
  char program[] = "farmctl", sweep[] = "sweep", start[] = "start", help[] = "--help";
  char plan[] = "--plan=native", dashes[] = "--", short_help[] = "-h";
  std::vector<char*> argv = {program, sweep, help, start, plan};
  EXPECT_TRUE(RemoveHelpFlag(&argv));
  EXPECT_THAT(Strings(argv), ElementsAre("farmctl", "sweep", "start", "--plan=native"));
  argv = {program, short_help};
  EXPECT_TRUE(RemoveHelpFlag(&argv));
  EXPECT_THAT(Strings(argv), ElementsAre("farmctl"));
  argv = {program, sweep, plan};
  EXPECT_FALSE(RemoveHelpFlag(&argv));
  EXPECT_EQ(argv.size(), 3u);
  argv = {program, dashes, help};  // an operand, not a flag
  EXPECT_FALSE(RemoveHelpFlag(&argv));
  EXPECT_EQ(argv.size(), 3u);
}

}  // namespace
}  // namespace kvmfarm::farmctl
