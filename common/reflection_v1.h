// -----------------------------------------------------------------------------
// File: reflection_v1.h
// -----------------------------------------------------------------------------
//
// gRPC server reflection v1 (grpc.reflection.v1.ServerReflection), which Debian's
// libgrpc++_reflection 1.51 lacks: it serves only the older v1alpha, while clients
// built on newer gRPC ask for v1. This one implementation serves both names (their
// messages are the same on the wire), so one authorization check covers both.
// GrpcServer (common/grpc_server.h) serves it on every kvmfarm server; nothing else
// needs this header.
//
// The answers come from the process's generated descriptor pool, i.e. every .proto
// compiled into the binary, and follow grpc.reflection.v1:
//  * list_services: the full names of the services the server serves, reflection
//    and health included;
//  * file_by_filename, file_containing_symbol, file_containing_extension: the file
//    as a serialized FileDescriptorProto, first, then its transitive dependencies.
//    The requested file is always sent; a dependency only once per stream, as the
//    protocol allows, since a client keeps what the stream already gave it;
//  * all_extension_numbers_of_type: the field numbers of the type's known extensions;
//  * an unknown name: an error_response (NOT_FOUND), and the stream goes on.
//
// Example (what GrpcServer::Start does):
//
//   grpc::ServerBuilder builder;
//   AddServerReflectionV1(&builder);
//   builder.RegisterService(&service);
//   std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
#ifndef KVMFARM_COMMON_REFLECTION_V1_H_
#define KVMFARM_COMMON_REFLECTION_V1_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"

namespace kvmfarm {

inline constexpr char kReflectionV1Method[] =
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
inline constexpr char kReflectionV1AlphaMethod[] =
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";

class ServerReflectionV1Service;

// Registers a ServerReflectionV1Service on the server `builder` builds, under both
// grpc.reflection.v1 and v1alpha (the same messages on the wire), and tells it,
// once the server has started, the names of every service registered by then.
// With `authorize` set, each stream is first checked by it (with its method path)
// and ends with its status when that isn't OK.
void AddServerReflectionV1(
    grpc::ServerBuilder* builder,
    std::function<grpc::Status(const grpc::ServerContext&, const char* method)> authorize = {});

// The grpc.reflection.v1 service over the generated descriptor pool. Register it
// through AddServerReflectionV1, which knows the server's service names.
class ServerReflectionV1Service final : public grpc::reflection::v1::ServerReflection::Service {
 public:
  using Authorize = std::function<grpc::Status(const grpc::ServerContext&, const char* method)>;
  explicit ServerReflectionV1Service(Authorize authorize = {}) : authorize_(std::move(authorize)) {}

  // The names list_services answers with, in this order. Until set, list_services
  // is UNAVAILABLE: the server has not finished starting.
  void SetServiceNames(std::vector<std::string> names);

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                               grpc::reflection::v1::ServerReflectionRequest>* stream) override;

  // One stream of either protocol, `method` being its path.
  grpc::Status Serve(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                               grpc::reflection::v1::ServerReflectionRequest>* stream,
      const char* method);

 private:
  // The names of the files already sent on one stream.
  using SentFiles = absl::flat_hash_set<std::string>;

  // The response to one request: the answer, or an error_response.
  grpc::reflection::v1::ServerReflectionResponse Answer(
      const grpc::reflection::v1::ServerReflectionRequest& request, SentFiles* sent);
  absl::Status FillAnswer(const grpc::reflection::v1::ServerReflectionRequest& request,
                          SentFiles* sent,
                          grpc::reflection::v1::ServerReflectionResponse* response);
  absl::Status ListServices(grpc::reflection::v1::ListServiceResponse* response);

  const Authorize authorize_;
  absl::Mutex mu_;
  std::vector<std::string> service_names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_REFLECTION_V1_H_
