// -----------------------------------------------------------------------------
// File: proto_time.h
// -----------------------------------------------------------------------------
//
// absl::Time <-> google.protobuf.Timestamp and absl::Duration <->
// google.protobuf.Duration, to the nanosecond.
//
// Example:
//
//   *request.mutable_deadline() = ToProtoDuration(absl::Minutes(5));
//   const absl::Duration d = FromProtoDuration(request.deadline());
#ifndef KVMFARM_COMMON_PROTO_TIME_H_
#define KVMFARM_COMMON_PROTO_TIME_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"

namespace kvmfarm {

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t);

google::protobuf::Duration ToProtoDuration(absl::Duration d);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_PROTO_TIME_H_
