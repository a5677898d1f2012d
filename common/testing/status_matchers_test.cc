#include "common/testing/status_matchers.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatusMatchersTest, IsOkMatchesOnlyOk) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::InternalError("x"), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(3), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(absl::NotFoundError("x")), Not(IsOk()));
}

TEST(StatusMatchersTest, StatusIsChecksCodeAndMessage) {
  const absl::Status status = absl::InvalidArgumentError("field attempt_id is empty");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("attempt_id")));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("mode"))));
  EXPECT_THAT(absl::StatusOr<std::string>(absl::NotFoundError("no such device")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("device")));
}

TEST(StatusMatchersTest, IsOkAndHoldsChecksTheValue) {
  EXPECT_THAT(absl::StatusOr<int>(12), IsOkAndHolds(12));
  EXPECT_THAT(absl::StatusOr<int>(11), Not(IsOkAndHolds(12)));
  EXPECT_THAT(absl::StatusOr<int>(absl::InternalError("x")), Not(IsOkAndHolds(12)));
  EXPECT_THAT(absl::StatusOr<std::string>("Cortex-X4"), IsOkAndHolds(HasSubstr("X4")));
}

TEST(StatusMatchersTest, ExplainsAFailure) {
  ::testing::StringMatchResultListener listener;
  const ::testing::Matcher<absl::StatusOr<int>> matcher = IsOkAndHolds(1);
  EXPECT_FALSE(
      matcher.MatchAndExplain(absl::StatusOr<int>(absl::UnavailableError("gone")), &listener));
  EXPECT_THAT(listener.str(), HasSubstr("gone"));
}

}  // namespace
}  // namespace kvmfarm::testing
