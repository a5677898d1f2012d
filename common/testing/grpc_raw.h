// -----------------------------------------------------------------------------
// File: testing/grpc_raw.h
// -----------------------------------------------------------------------------
//
// Calls a unary gRPC method by name with serialized bytes, for services whose
// generated code Debian doesn't ship (grpc.health.v1.Health).
//
// Example:
//
//   std::string response;
//   grpc::Status status = CallRawUnary(channel, "/grpc.health.v1.Health/Check", "",
//                                      &response);
//   EXPECT_EQ(response, kHealthServing);
#ifndef KVMFARM_COMMON_TESTING_GRPC_RAW_H_
#define KVMFARM_COMMON_TESTING_GRPC_RAW_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace kvmfarm::testing {

// HealthCheckResponse{status: SERVING}: field 1, varint 1.
inline const std::string kHealthServing("\x08\x01", 2);

// The bytes of a received message.
std::string ByteBufferToString(const grpc::ByteBuffer& buffer);

// Sends `request_bytes` to `method` and stores the reply's bytes; 10 s deadline.
grpc::Status CallRawUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::string& request_bytes, std::string* response_bytes);

}  // namespace kvmfarm::testing

#endif  // KVMFARM_COMMON_TESTING_GRPC_RAW_H_
