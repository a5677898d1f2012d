// -----------------------------------------------------------------------------
// File: proto_time.h
// -----------------------------------------------------------------------------
//
// absl::Time <-> google.protobuf.Timestamp, to the nanosecond.
#ifndef KVMFARM_COMMON_PROTO_TIME_H_
#define KVMFARM_COMMON_PROTO_TIME_H_

#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"

namespace kvmfarm {

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_PROTO_TIME_H_
