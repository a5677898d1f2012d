#include "controller/schedules/cron.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::schedules {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), absl::UTCTimeZone());
}

std::optional<absl::Time> Next(absl::string_view cron, absl::Time after) {
  absl::StatusOr<CronExpression> parsed = CronExpression::Parse(cron);
  EXPECT_THAT(parsed, IsOk()) << cron;
  return parsed.ok() ? parsed->NextAfter(after) : std::nullopt;
}

// 2026-12-01 is a Tuesday.
TEST(CronExpressionTest, NextRunsOfCommonSchedules) {
  const absl::Time now = Utc(2026, 12, 1, 10, 30);
  EXPECT_EQ(Next("* * * * *", now), Utc(2026, 12, 1, 10, 31));  // strictly after
  EXPECT_EQ(Next("0 3 * * *", now), Utc(2026, 12, 2, 3, 0));
  EXPECT_EQ(Next("30 10 * * *", now), Utc(2026, 12, 2, 10, 30));
  EXPECT_EQ(Next("*/15 * * * *", now), Utc(2026, 12, 1, 10, 45));
  EXPECT_EQ(Next("5/20 * * * *", now), Utc(2026, 12, 1, 10, 45));
  EXPECT_EQ(Next("0 9-17/4 * * *", now), Utc(2026, 12, 1, 13, 0));
  EXPECT_EQ(Next("0 0 * * 0", now), Utc(2026, 12, 6, 0, 0));                       // Sunday
  EXPECT_EQ(Next("0 0 * * 7", now), Utc(2026, 12, 6, 0, 0));                       // Sunday as 7
  EXPECT_EQ(Next("0 6 * * 1-5", Utc(2026, 12, 4, 7, 0)), Utc(2026, 12, 7, 6, 0));  // Fri → Mon
  EXPECT_EQ(Next("0 0 1 1 *", now), Utc(2027, 1, 1, 0, 0));
  EXPECT_EQ(Next("0 12 29 2 *", now), Utc(2028, 2, 29, 12, 0));  // the next leap day
  EXPECT_EQ(Next("0,30 8 * * *", now), Utc(2026, 12, 2, 8, 0));
}

// Vixie cron: with both day fields restricted, either one matching is enough.
TEST(CronExpressionTest, BothDayFieldsRestrictedMatchEither) {
  // The 15th, or any Monday: from Tuesday the 1st, Monday the 7th comes first.
  EXPECT_EQ(Next("0 0 15 * 1", Utc(2026, 12, 1, 0, 0)), Utc(2026, 12, 7, 0, 0));
  // Only the day of month restricted: the 15th whatever its weekday.
  EXPECT_EQ(Next("0 0 15 * *", Utc(2026, 12, 1, 0, 0)), Utc(2026, 12, 15, 0, 0));
}

TEST(CronExpressionTest, AStarredStepIsNoRestrictionOfTheDay) {
  // "*/1" in the weekday field restricts nothing: the 1st only, as Vixie cron.
  EXPECT_EQ(Next("0 0 1 * */1", Utc(2026, 12, 2, 0, 0)), Utc(2027, 1, 1, 0, 0));
}

TEST(CronExpressionTest, AHugeStepIsTheFirstValueOnly) {
  EXPECT_EQ(Next("59/2147483647 * * * *", Utc(2026, 12, 1, 10, 30)), Utc(2026, 12, 1, 10, 59));
  EXPECT_EQ(Next("0 0 */2147483647 * *", Utc(2026, 12, 1, 10, 30)), Utc(2027, 1, 1, 0, 0));
}

TEST(CronExpressionTest, ADateThatNeverComesHasNoNextRun) {
  EXPECT_EQ(Next("0 0 31 2 *", Utc(2026, 12, 1, 0, 0)), std::nullopt);
}

TEST(CronExpressionTest, MistakesNameTheField) {
  EXPECT_THAT(CronExpression::Parse("0 3 * *"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 4 fields")));
  EXPECT_THAT(
      CronExpression::Parse("60 * * * *"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("minute: 60 is outside 0-59")));
  EXPECT_THAT(
      CronExpression::Parse("0 3 * JAN *"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("month: 'JAN' is not a number")));
  EXPECT_THAT(CronExpression::Parse("@daily"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 1 fields")));
  EXPECT_THAT(CronExpression::Parse("*/0 * * * *"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("positive")));
  EXPECT_THAT(CronExpression::Parse("0 17-9 * * *"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("hour: range '17-9'")));
  EXPECT_THAT(CronExpression::Parse("0 3 0 * *"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("day of month: 0")));
  EXPECT_THAT(CronExpression::Parse("0,,5 3 * * *"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty list item")));
}

}  // namespace
}  // namespace kvmfarm::schedules
