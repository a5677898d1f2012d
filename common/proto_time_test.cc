#include "common/proto_time.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/testing/status_matchers.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOkAndHolds;
using ::kvmfarm::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ProtoTimeTest, RoundTripsToTheNanosecond) {
  const absl::Time t = absl::FromUnixSeconds(1'800'000'000) + absl::Nanoseconds(123'456'789);
  const google::protobuf::Timestamp proto = ToProtoTimestamp(t);
  EXPECT_EQ(proto.seconds(), 1'800'000'000);
  EXPECT_EQ(proto.nanos(), 123'456'789);
  EXPECT_EQ(FromProtoTimestamp(proto), t);
}

TEST(ProtoTimeTest, BeforeTheEpoch) {
  const absl::Time t = absl::FromUnixSeconds(-10) + absl::Milliseconds(250);
  EXPECT_EQ(FromProtoTimestamp(ToProtoTimestamp(t)), t);
}

TEST(ProtoTimeTest, DurationsRoundTripToTheNanosecond) {
  const absl::Duration d = absl::Seconds(90) + absl::Nanoseconds(5);
  const google::protobuf::Duration proto = ToProtoDuration(d);
  EXPECT_EQ(proto.seconds(), 90);
  EXPECT_EQ(proto.nanos(), 5);
  EXPECT_EQ(FromProtoDuration(proto), d);
  EXPECT_EQ(FromProtoDuration(ToProtoDuration(-absl::Milliseconds(1500))),
            -absl::Milliseconds(1500));
}

google::protobuf::Duration Proto(int64_t seconds, int32_t nanos) {
  google::protobuf::Duration d;
  d.set_seconds(seconds);
  d.set_nanos(nanos);
  return d;
}

TEST(ProtoTimeTest, DurationsPast292YearsDoNotWrap) {
  EXPECT_EQ(FromProtoDuration(Proto(18'446'744'074, 0)), absl::Seconds(18'446'744'074));
  EXPECT_EQ(FromProtoDuration(Proto(9'223'372'037, 0)), absl::Seconds(9'223'372'037));
}

TEST(ProtoTimeTest, DurationTextIsTheWireValue) {
  EXPECT_EQ(ProtoDurationText(Proto(18'446'744'074, 0)), "18446744074s");
  EXPECT_EQ(ProtoDurationText(Proto(-1, -500'000'000)), "-1.5s");
  EXPECT_EQ(ProtoDurationText(Proto(0, -250)), "-0.00000025s");
}

TEST(CheckedDurationTest, AcceptsAPositiveDurationWithinTheBound) {
  EXPECT_THAT(CheckedDuration(Proto(90, 5), "deadline", absl::Hours(24)),
              IsOkAndHolds(absl::Seconds(90) + absl::Nanoseconds(5)));
  EXPECT_THAT(CheckedDuration(Proto(86'400, 0), "deadline", absl::Hours(24)),
              IsOkAndHolds(absl::Hours(24)));
}

TEST(CheckedDurationTest, RefusesMoreThanTheBoundNamingTheField) {
  EXPECT_THAT(CheckedDuration(Proto(18'446'744'074, 0), "deadline", absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "deadline: 18446744074s is more than the 24h allowed"));
  EXPECT_THAT(CheckedDuration(Proto(86'400, 1), "spec.task_deadline", absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("spec.task_deadline: ")));
}

TEST(CheckedDurationTest, RefusesZeroAndNegativeNamingTheField) {
  EXPECT_THAT(
      CheckedDuration(Proto(0, 0), "deadline", absl::Hours(24)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("deadline: 0s is not positive")));
  EXPECT_THAT(CheckedDuration(Proto(9'223'372'037, 0), "deadline", absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than the 24h")));
  EXPECT_THAT(CheckedDuration(Proto(-9'223'372'037, 0), "boot_deadline", absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("boot_deadline: -9223372037s is not positive")));
}

TEST(CheckedDurationTest, RefusesMalformedDurationsNamingTheField) {
  EXPECT_THAT(CheckedDuration(Proto(5, -3), "deadline", absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "deadline: seconds 5 and nanos -3 have different signs"));
  EXPECT_THAT(CheckedDuration(Proto(1, 1'000'000'000), "deadline", absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("deadline: nanos 1000000000 is out of range")));
  EXPECT_THAT(CheckedDuration(Proto(0, -1'000'000'000), "deadline", absl::Hours(24)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
}

}  // namespace
}  // namespace kvmfarm
