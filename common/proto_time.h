// -----------------------------------------------------------------------------
// File: proto_time.h
// -----------------------------------------------------------------------------
//
// absl::Time <-> google.protobuf.Timestamp and absl::Duration <->
// google.protobuf.Duration, to the nanosecond.
//
// A Duration that comes in a request (a job's deadline, a sweep's task deadline) is
// read with CheckedDuration, never FromProtoDuration: it refuses what is not a
// positive, well-formed duration within a bound, and names the field, so a deadline
// of 585 years is an error rather than a few hundred milliseconds after overflow.
//
// Example:
//
//   *request.mutable_deadline() = ToProtoDuration(absl::Minutes(5));
//   ASSIGN_OR_RETURN(const absl::Duration deadline,
//                    CheckedDuration(request.deadline(), "deadline", kMaxJobDeadline));
#ifndef KVMFARM_COMMON_PROTO_TIME_H_
#define KVMFARM_COMMON_PROTO_TIME_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kvmfarm {

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t);

google::protobuf::Duration ToProtoDuration(absl::Duration d);
// Exact for every seconds/nanos pair (no int64 nanosecond overflow); does not check
// that the pair is a valid Duration. For durations this program made itself.
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

// `d` as written on the wire: "18446744074s", "-1.5s", "0.000000250s".
std::string ProtoDurationText(const google::protobuf::Duration& d);

// A Duration from a request: positive, at most `max`, and well formed (seconds and
// nanos of the same sign, |nanos| < 1e9). Otherwise INVALID_ARGUMENT naming `field`,
// e.g. "deadline: 18446744074s is more than the 24h allowed".
absl::StatusOr<absl::Duration> CheckedDuration(const google::protobuf::Duration& d,
                                               absl::string_view field, absl::Duration max);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_PROTO_TIME_H_
