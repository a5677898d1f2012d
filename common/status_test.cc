#include "absl/status/status.h"

#include <grpcpp/support/status.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;

int g_steps_after_check = 0;

absl::Status CheckThenStep(absl::Status check) {
  RETURN_IF_ERROR(check);
  ++g_steps_after_check;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorReturnsTheErrorAndStopsThere) {
  g_steps_after_check = 0;
  EXPECT_THAT(CheckThenStep(absl::OkStatus()), IsOk());
  EXPECT_EQ(g_steps_after_check, 1);
  EXPECT_THAT(CheckThenStep(absl::NotFoundError("no /dev/kvm")),
              StatusIs(absl::StatusCode::kNotFound, "no /dev/kvm"));
  EXPECT_EQ(g_steps_after_check, 1);
}

absl::StatusOr<int> ParsePositive(int value) {
  if (value <= 0) return absl::InvalidArgumentError("not positive");
  return value;
}

absl::StatusOr<int> DoubleIt(int value) {
  ASSIGN_OR_RETURN(int parsed, ParsePositive(value));
  return 2 * parsed;
}

absl::StatusOr<std::string> AssignToExisting(int value) {
  std::string out = "unset";
  int parsed = 0;
  ASSIGN_OR_RETURN(parsed, ParsePositive(value));
  out = std::to_string(parsed);
  return out;
}

absl::StatusOr<std::unique_ptr<int>> MakeBox(int value) { return std::make_unique<int>(value); }

absl::StatusOr<int> Unbox(int value) {
  // Two in one scope: the macro's temporaries must not collide; move-only works.
  ASSIGN_OR_RETURN(std::unique_ptr<int> a, MakeBox(value));
  ASSIGN_OR_RETURN(std::unique_ptr<int> b, MakeBox(value + 1));
  return *a + *b;
}

TEST(StatusMacrosTest, AssignOrReturnDeclaresAssignsAndPropagates) {
  EXPECT_THAT(DoubleIt(21), IsOkAndHolds(42));
  EXPECT_THAT(DoubleIt(-1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(AssignToExisting(7), IsOkAndHolds("7"));
  EXPECT_THAT(AssignToExisting(0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Unbox(1), IsOkAndHolds(3));
}

TEST(GrpcStatusTest, EveryCanonicalCodeRoundTripsWithItsMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status original(static_cast<absl::StatusCode>(code),
                                "field 'attempt_id' is required");
    const grpc::Status wire = ToGrpcStatus(original);
    EXPECT_EQ(static_cast<int>(wire.error_code()), code);
    EXPECT_EQ(wire.error_message(), "field 'attempt_id' is required");
    EXPECT_EQ(FromGrpcStatus(wire), original);
  }
}

TEST(GrpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_THAT(FromGrpcStatus(grpc::Status::OK), IsOk());
}

TEST(GrpcStatusTest, NamedCodesMapToTheirGrpcTwins) {
  EXPECT_EQ(ToGrpcStatus(absl::InvalidArgumentError("x")).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("busy")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("x")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")),
              StatusIs(absl::StatusCode::kUnavailable, "down"));
}

TEST(GrpcStatusTest, NonCanonicalCodesBecomeUnknownAndKeepTheNumber) {
  const grpc::Status odd(static_cast<grpc::StatusCode>(42), "strange");
  EXPECT_THAT(FromGrpcStatus(odd), StatusIs(absl::StatusCode::kUnknown, "[code 42] strange"));
}

TEST(GrpcStatusTest, ReplyWithMovesTheValueOrConvertsTheError) {
  std::string out = "untouched";
  EXPECT_TRUE(ReplyWith(absl::StatusOr<std::string>("answer"), &out).ok());
  EXPECT_EQ(out, "answer");
  const grpc::Status refused =
      ReplyWith(absl::StatusOr<std::string>(absl::NotFoundError("no sweep 's9'")), &out);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(refused.error_message(), "no sweep 's9'");
  EXPECT_EQ(out, "answer");  // an error leaves the reply alone
}

}  // namespace
}  // namespace kvmfarm
