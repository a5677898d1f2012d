// grpc.reflection.v1 as a v1-only client sees it on a GrpcServer: a stub generated
// from grpc-proto's reflection.proto, nothing of the v1alpha library.
#include "common/reflection_v1.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/grpc_server.h"
#include "common/testing/status_matchers.h"
#include "farm/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::grpc::reflection::v1::ServerReflection;
using ::grpc::reflection::v1::ServerReflectionRequest;
using ::grpc::reflection::v1::ServerReflectionResponse;
using ::kvmfarm::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

ServerReflectionRequest ListServices() {
  ServerReflectionRequest request;
  request.set_list_services("");
  return request;
}

ServerReflectionRequest FileContainingSymbol(const std::string& symbol) {
  ServerReflectionRequest request;
  request.set_file_containing_symbol(symbol);
  return request;
}

ServerReflectionRequest FileByFilename(const std::string& name) {
  ServerReflectionRequest request;
  request.set_file_by_filename(name);
  return request;
}

std::vector<std::string> ServiceNames(const ServerReflectionResponse& response) {
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  return names;
}

// The FileDescriptorProtos of a file_descriptor_response, in the order sent.
std::vector<google::protobuf::FileDescriptorProto> Files(const ServerReflectionResponse& response) {
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
    files.emplace_back();
    EXPECT_TRUE(files.back().ParseFromString(bytes));
  }
  return files;
}

std::vector<std::string> FileNames(const ServerReflectionResponse& response) {
  std::vector<std::string> names;
  for (const auto& file : Files(response)) names.push_back(file.name());
  return names;
}

// A GrpcServer serving an AgentService, and one reflection stream to it.
class ReflectionV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    GrpcServerOptions options;
    options.services = {&agent_};
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options);
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    stub_ = ServerReflection::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    stream_ = stub_->ServerReflectionInfo(&context_);
  }

  void TearDown() override {
    if (stream_ == nullptr) return;
    stream_->WritesDone();
    EXPECT_TRUE(stream_->Finish().ok());
  }

  // Sends `request` on the stream and returns the answer; an empty response (and a
  // test failure) if the stream broke.
  ServerReflectionResponse Ask(const ServerReflectionRequest& request) {
    ServerReflectionResponse response;
    EXPECT_TRUE(stream_->Write(request));
    EXPECT_TRUE(stream_->Read(&response));
    return response;
  }

  // The generated base: every agent RPC is UNIMPLEMENTED, all reflection needs.
  farm::v1::AgentService::Service agent_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<ServerReflection::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<ServerReflectionRequest, ServerReflectionResponse>>
      stream_;
};

TEST_F(ReflectionV1Test, ListServicesNamesEveryServiceTheServerServes) {
  const ServerReflectionResponse response = Ask(ListServices());
  ASSERT_TRUE(response.has_list_services_response()) << response.DebugString();
  EXPECT_THAT(ServiceNames(response),
              UnorderedElementsAre("farm.v1.AgentService", "grpc.health.v1.Health",
                                   "grpc.reflection.v1.ServerReflection",
                                   "grpc.reflection.v1alpha.ServerReflection"));
  EXPECT_TRUE(response.original_request().has_list_services());
}

TEST_F(ReflectionV1Test, FileContainingAServiceBuildsIntoAPoolThatHasItsMethods) {
  const ServerReflectionResponse response = Ask(FileContainingSymbol("farm.v1.AgentService"));
  ASSERT_TRUE(response.has_file_descriptor_response()) << response.DebugString();
  // The file asked for comes first, then every dependency, each once.
  EXPECT_THAT(FileNames(response),
              UnorderedElementsAre("farm/v1/agent.proto", "google/protobuf/duration.proto",
                                   "farm/v1/common.proto", "google/protobuf/timestamp.proto"));
  EXPECT_EQ(FileNames(response).front(), "farm/v1/agent.proto");

  // A fresh pool built from the answer alone: it fails to find the service if any
  // dependency is missing.
  google::protobuf::SimpleDescriptorDatabase database;
  for (const auto& file : Files(response)) ASSERT_TRUE(database.Add(file));
  google::protobuf::DescriptorPool pool(&database);
  const google::protobuf::ServiceDescriptor* service =
      pool.FindServiceByName("farm.v1.AgentService");
  ASSERT_NE(service, nullptr);
  const google::protobuf::MethodDescriptor* method = service->FindMethodByName("GetStatus");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ(method->input_type()->full_name(), "farm.v1.GetStatusRequest");
  EXPECT_EQ(method->output_type()->full_name(), "farm.v1.GetStatusResponse");
  // Every method and type as the server compiled it.
  EXPECT_EQ(service->DebugString(), google::protobuf::DescriptorPool::generated_pool()
                                        ->FindServiceByName("farm.v1.AgentService")
                                        ->DebugString());
}

TEST_F(ReflectionV1Test, AnUnknownSymbolIsNotFoundAndTheStreamKeepsAnswering) {
  const ServerReflectionResponse error = Ask(FileContainingSymbol("farm.v1.NoSuchService"));
  ASSERT_TRUE(error.has_error_response()) << error.DebugString();
  EXPECT_EQ(error.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(error.error_response().error_message(), HasSubstr("farm.v1.NoSuchService"));
  EXPECT_EQ(error.original_request().file_containing_symbol(), "farm.v1.NoSuchService");

  const ServerReflectionResponse next = Ask(ListServices());
  ASSERT_TRUE(next.has_list_services_response()) << next.DebugString();
  EXPECT_THAT(ServiceNames(next), ::testing::Contains("farm.v1.AgentService"));
}

TEST_F(ReflectionV1Test, FileByFilenameSendsEachDependencyOncePerStream) {
  EXPECT_THAT(FileNames(Ask(FileByFilename("farm/v1/agent.proto"))),
              ElementsAre("farm/v1/agent.proto", "google/protobuf/duration.proto",
                          "farm/v1/common.proto", "google/protobuf/timestamp.proto"));
  // controller.proto imports only files the stream already sent.
  EXPECT_THAT(FileNames(Ask(FileByFilename("farm/v1/controller.proto"))),
              ElementsAre("farm/v1/controller.proto"));
  // The file asked for is the answer, so it comes again even though already sent.
  EXPECT_THAT(FileNames(Ask(FileByFilename("google/protobuf/duration.proto"))),
              ElementsAre("google/protobuf/duration.proto"));

  const ServerReflectionResponse missing = Ask(FileByFilename("farm/v1/nope.proto"));
  EXPECT_EQ(missing.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReflectionV1Test, ASymbolInsideAFileFindsTheWholeFile) {
  const ServerReflectionResponse method =
      Ask(FileContainingSymbol("farm.v1.AgentService.GetStatus"));
  const ServerReflectionResponse message = Ask(FileContainingSymbol("farm.v1.GetStatusRequest"));
  ASSERT_FALSE(Files(method).empty());
  EXPECT_EQ(Files(method).front().name(), "farm/v1/agent.proto");
  // Same stream: the dependencies went with the first answer.
  EXPECT_THAT(FileNames(message), ElementsAre("farm/v1/agent.proto"));
}

TEST_F(ReflectionV1Test, ExtensionsOfAKnownTypeAndNotFoundForUnknownOnes) {
  ServerReflectionRequest numbers;
  numbers.set_all_extension_numbers_of_type("farm.v1.GetStatusRequest");
  const ServerReflectionResponse none = Ask(numbers);
  ASSERT_TRUE(none.has_all_extension_numbers_response()) << none.DebugString();
  EXPECT_EQ(none.all_extension_numbers_response().base_type_name(), "farm.v1.GetStatusRequest");
  EXPECT_THAT(none.all_extension_numbers_response().extension_number(), ElementsAreArray<int>({}));

  numbers.set_all_extension_numbers_of_type("farm.v1.NoSuchMessage");
  EXPECT_EQ(Ask(numbers).error_response().error_code(), grpc::StatusCode::NOT_FOUND);

  ServerReflectionRequest extension;
  extension.mutable_file_containing_extension()->set_containing_type("farm.v1.GetStatusRequest");
  extension.mutable_file_containing_extension()->set_extension_number(1000);
  EXPECT_EQ(Ask(extension).error_response().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ReflectionV1Test, ARequestForNothingIsUnimplemented) {
  const ServerReflectionResponse response = Ask(ServerReflectionRequest());
  EXPECT_EQ(response.error_response().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace kvmfarm
