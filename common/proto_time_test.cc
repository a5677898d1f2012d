#include "common/proto_time.h"

#include <gtest/gtest.h>

namespace kvmfarm {
namespace {

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

}  // namespace
}  // namespace kvmfarm
