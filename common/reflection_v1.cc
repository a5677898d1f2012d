#include "common/reflection_v1.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace kvmfarm {
namespace {

using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FileDescriptor;
using ::grpc::reflection::v1::ExtensionNumberResponse;
using ::grpc::reflection::v1::ExtensionRequest;
using ::grpc::reflection::v1::FileDescriptorResponse;
using ::grpc::reflection::v1::ServerReflectionRequest;
using ::grpc::reflection::v1::ServerReflectionResponse;

// Every .proto linked into this binary.
const DescriptorPool& Pool() { return *DescriptorPool::generated_pool(); }

absl::StatusOr<const FileDescriptor*> FileByFilename(const std::string& name) {
  const FileDescriptor* file = Pool().FindFileByName(name);
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("no file named '", name, "'"));
  return file;
}

absl::StatusOr<const FileDescriptor*> FileContainingSymbol(const std::string& symbol) {
  const FileDescriptor* file = Pool().FindFileContainingSymbol(symbol);
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("no symbol '", symbol, "'"));
  return file;
}

absl::StatusOr<const google::protobuf::Descriptor*> MessageType(const std::string& type) {
  const google::protobuf::Descriptor* message = Pool().FindMessageTypeByName(type);
  if (message == nullptr) return absl::NotFoundError(absl::StrCat("no message type '", type, "'"));
  return message;
}

absl::StatusOr<const FileDescriptor*> FileContainingExtension(const ExtensionRequest& request) {
  ASSIGN_OR_RETURN(const google::protobuf::Descriptor* message,
                   MessageType(request.containing_type()));
  const google::protobuf::FieldDescriptor* extension =
      Pool().FindExtensionByNumber(message, request.extension_number());
  if (extension == nullptr) {
    return absl::NotFoundError(absl::StrCat("no extension ", request.extension_number(), " of '",
                                            request.containing_type(), "'"));
  }
  return extension->file();
}

absl::StatusOr<ExtensionNumberResponse> AllExtensionNumbersOfType(const std::string& type) {
  ASSIGN_OR_RETURN(const google::protobuf::Descriptor* message, MessageType(type));
  std::vector<const google::protobuf::FieldDescriptor*> extensions;
  Pool().FindAllExtensions(message, &extensions);
  ExtensionNumberResponse response;
  response.set_base_type_name(type);
  for (const google::protobuf::FieldDescriptor* extension : extensions) {
    response.add_extension_number(extension->number());
  }
  return response;
}

// Appends `file`, then depth first each dependency not yet sent on this stream. A
// sent file's dependencies went with it, so the walk stops there.
void AppendWithDependencies(const FileDescriptor& file, absl::flat_hash_set<std::string>* sent,
                            FileDescriptorResponse* response) {
  google::protobuf::FileDescriptorProto proto;
  file.CopyTo(&proto);
  response->add_file_descriptor_proto(proto.SerializeAsString());
  sent->insert(file.name());
  for (int i = 0; i < file.dependency_count(); ++i) {
    const FileDescriptor& dependency = *file.dependency(i);
    if (!sent->contains(dependency.name())) AppendWithDependencies(dependency, sent, response);
  }
}

// The answer to the three kinds of request that ask for a file.
absl::Status SendFile(absl::StatusOr<const FileDescriptor*> file,
                      absl::flat_hash_set<std::string>* sent, ServerReflectionResponse* response) {
  RETURN_IF_ERROR(file.status());
  AppendWithDependencies(**file, sent, response->mutable_file_descriptor_response());
  return absl::OkStatus();
}

// The same service under v1alpha's name: the two protocols' messages are the same
// on the wire, so older clients (grpcurl before 1.8.8, gRPC's own tools of 1.51)
// get kvmfarm's implementation, checked like every other call, not gRPC's
// library's, which no authorization check could reach.
class ReflectionV1AlphaService final : public grpc::Service {
 public:
  explicit ReflectionV1AlphaService(ServerReflectionV1Service* v1) {
    AddMethod(new grpc::internal::RpcServiceMethod(
        kReflectionV1AlphaMethod, grpc::internal::RpcMethod::BIDI_STREAMING,
        new grpc::internal::BidiStreamingHandler<ServerReflectionV1Service, ServerReflectionRequest,
                                                 ServerReflectionResponse>(
            [](ServerReflectionV1Service* service, grpc::ServerContext* context,
               grpc::ServerReaderWriter<ServerReflectionResponse, ServerReflectionRequest>*
                   stream) { return service->Serve(context, stream, kReflectionV1AlphaMethod); },
            v1)));
  }
};

// Serves ServerReflectionV1Service (under both names) on the server of the builder
// that holds it. ServerBuilderPlugin is the hook that sees the server's registered
// service names: InitServer runs after every service is registered, Finish after
// the server (and its health service) started.
class ReflectionV1Plugin final : public grpc::ServerBuilderPlugin {
 public:
  explicit ReflectionV1Plugin(ServerReflectionV1Service::Authorize authorize)
      : service_(std::make_shared<ServerReflectionV1Service>(std::move(authorize))),
        v1alpha_(std::make_shared<ReflectionV1AlphaService>(service_.get())) {}

  std::string name() override { return "kvmfarm_reflection_v1"; }

  void InitServer(grpc::ServerInitializer* initializer) override {
    if (!initializer->RegisterService(service_) || !initializer->RegisterService(v1alpha_)) {
      FARM_LOG(ERROR) << "server reflection is registered twice; kvmfarm's is not served";
    }
  }

  void Finish(grpc::ServerInitializer* initializer) override {
    service_->SetServiceNames(*initializer->GetServiceList());
  }

  void ChangeArguments(const std::string&, void*) override {}

  // The builder creates the queues for synchronous calls only if something asks.
  bool has_sync_methods() const override { return true; }

 private:
  std::shared_ptr<ServerReflectionV1Service> service_;
  std::shared_ptr<ReflectionV1AlphaService> v1alpha_;
};

// ServerBuilder's public way to add a plugin to one builder.
class ReflectionV1Option final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionV1Option(ServerReflectionV1Service::Authorize authorize)
      : authorize_(std::move(authorize)) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ReflectionV1Plugin>(authorize_));
  }

 private:
  ServerReflectionV1Service::Authorize authorize_;
};

}  // namespace

void AddServerReflectionV1(grpc::ServerBuilder* builder,
                           ServerReflectionV1Service::Authorize authorize) {
  builder->SetOption(std::make_unique<ReflectionV1Option>(std::move(authorize)));
}

void ServerReflectionV1Service::SetServiceNames(std::vector<std::string> names) {
  absl::MutexLock lock(&mu_);
  service_names_ = std::move(names);
}

grpc::Status ServerReflectionV1Service::ServerReflectionInfo(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<ServerReflectionResponse, ServerReflectionRequest>* stream) {
  return Serve(context, stream, kReflectionV1Method);
}

grpc::Status ServerReflectionV1Service::Serve(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<ServerReflectionResponse, ServerReflectionRequest>* stream,
    const char* method) {
  if (authorize_) {
    grpc::Status allowed = authorize_(*context, method);
    if (!allowed.ok()) return allowed;
  }
  SentFiles sent;
  ServerReflectionRequest request;
  while (stream->Read(&request)) {
    if (!stream->Write(Answer(request, &sent))) break;  // the client has gone
  }
  return grpc::Status::OK;
}

ServerReflectionResponse ServerReflectionV1Service::Answer(const ServerReflectionRequest& request,
                                                           SentFiles* sent) {
  ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  const absl::Status status = FillAnswer(request, sent, &response);
  if (!status.ok()) {
    // Replaces any partial answer: the response's kinds are one oneof.
    const grpc::Status error = ToGrpcStatus(status);
    response.mutable_error_response()->set_error_code(error.error_code());
    response.mutable_error_response()->set_error_message(error.error_message());
  }
  return response;
}

absl::Status ServerReflectionV1Service::FillAnswer(const ServerReflectionRequest& request,
                                                   SentFiles* sent,
                                                   ServerReflectionResponse* response) {
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kFileByFilename:
      return SendFile(FileByFilename(request.file_by_filename()), sent, response);
    case ServerReflectionRequest::kFileContainingSymbol:
      return SendFile(FileContainingSymbol(request.file_containing_symbol()), sent, response);
    case ServerReflectionRequest::kFileContainingExtension:
      return SendFile(FileContainingExtension(request.file_containing_extension()), sent, response);
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      ASSIGN_OR_RETURN(*response->mutable_all_extension_numbers_response(),
                       AllExtensionNumbersOfType(request.all_extension_numbers_of_type()));
      return absl::OkStatus();
    }
    case ServerReflectionRequest::kListServices:
      return ListServices(response->mutable_list_services_response());
    case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      break;
  }
  // Nothing set looks the same as a kind of request newer than our .proto (an
  // unknown field): either way this server can't answer it, as v1alpha says too.
  return absl::UnimplementedError("the request asks for nothing this server knows");
}

absl::Status ServerReflectionV1Service::ListServices(
    grpc::reflection::v1::ListServiceResponse* response) {
  absl::MutexLock lock(&mu_);
  // Never empty once set: the list holds this service.
  if (service_names_.empty()) return absl::UnavailableError("the server is still starting");
  for (const std::string& name : service_names_) response->add_service()->set_name(name);
  return absl::OkStatus();
}

}  // namespace kvmfarm
