// -----------------------------------------------------------------------------
// File: grpc_status.h
// -----------------------------------------------------------------------------
//
// The one place absl::Status and grpc::Status are converted, at the service edge.
// Domain code returns absl::Status; a service method ends with
// `return ToGrpcStatus(status);`, and a client turns a failed call back with
// `FromGrpcStatus(call_status)`, and a method that only forwards a domain answer
// ends with `return ReplyWith(domain_call(...), response);`. The codes have the same numbers in
// both libraries (both follow google.rpc.Code), so the conversion keeps code and message exactly.
#ifndef KVMFARM_COMMON_GRPC_STATUS_H_
#define KVMFARM_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvmfarm {

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// grpc::Status -> absl::Status with the same code and message. Codes outside the
// canonical range become UNKNOWN, with the original number in the message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// A service method's reply from a domain answer: its error as a grpc::Status, or
// the value moved into `out` (the response, or one of its fields) and OK.
//
//   return ReplyWith(scheduler_->StartSweep(*request), response->mutable_sweep());
template <typename T>
grpc::Status ReplyWith(absl::StatusOr<T> answer, T* out) {
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  *out = *std::move(answer);
  return grpc::Status::OK;
}

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_GRPC_STATUS_H_
