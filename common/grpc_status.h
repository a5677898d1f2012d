// -----------------------------------------------------------------------------
// File: grpc_status.h
// -----------------------------------------------------------------------------
//
// The one place absl::Status and grpc::Status are converted, at the service edge.
// Domain code returns absl::Status; a service method ends with
// `return ToGrpcStatus(status);`, and a client turns a failed call back with
// `FromGrpcStatus(call_status)`. The codes have the same numbers in both libraries
// (both follow google.rpc.Code), so the conversion keeps code and message exactly.
#ifndef KVMFARM_COMMON_GRPC_STATUS_H_
#define KVMFARM_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace kvmfarm {

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc::Status -> absl::Status with the same code and message. Codes outside the
// canonical range become UNKNOWN, with the original number in the message.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_GRPC_STATUS_H_
