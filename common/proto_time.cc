#include "common/proto_time.h"

#include <google/protobuf/util/time_util.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace kvmfarm {

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(google::protobuf::util::TimeUtil::TimestampToNanoseconds(t));
}

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  return google::protobuf::util::TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(d));
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  // absl::Duration holds +-2^63 seconds, so neither term overflows (an int64 count of
  // nanoseconds would, past 292 years).
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string ProtoDurationText(const google::protobuf::Duration& d) {
  if (d.nanos() == 0) return absl::StrCat(d.seconds(), "s");
  const bool negative = d.seconds() < 0 || d.nanos() < 0;
  std::string fraction = absl::StrCat(absl::Dec(std::abs(d.nanos()), absl::kZeroPad9));
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return absl::StrCat(negative && d.seconds() == 0 ? "-" : "", d.seconds(), ".", fraction, "s");
}

absl::StatusOr<absl::Duration> CheckedDuration(const google::protobuf::Duration& d,
                                               absl::string_view field, absl::Duration max) {
  constexpr int32_t kNanosPerSecond = 1'000'000'000;
  if (d.nanos() <= -kNanosPerSecond || d.nanos() >= kNanosPerSecond) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": nanos ", d.nanos(), " is out of range; it must be within +-999999999"));
  }
  if ((d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": seconds ", d.seconds(), " and nanos ",
                                                   d.nanos(), " have different signs"));
  }
  const absl::Duration duration = FromProtoDuration(d);
  if (duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", ProtoDurationText(d), " is not positive; give at most ",
                     absl::FormatDuration(max), " or leave it unset for the default"));
  }
  if (duration > max) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", ProtoDurationText(d),
                                                   " is more than the ", absl::FormatDuration(max),
                                                   " allowed"));
  }
  return duration;
}

}  // namespace kvmfarm
