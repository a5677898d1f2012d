// What mutual TLS costs a kvmfarm call, measured side by side on loopback in one
// run: a GetStatus round trip on an open connection, and a new connection with
// its handshake, plaintext against mutual TLS with the lab's certificates
// (P-256 keys from tools/pki/pki.sh).
//
//   bazel run -c opt //common/tls:tls_benchmark
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "common/grpc_server.h"
#include "common/tls/testing/test_lab.h"
#include "common/tls/tls_credentials.h"
#include "farm/v1/agent.grpc.pb.h"

namespace kvmfarm {
namespace {

class StatusAgent final : public farm::v1::AgentService::Service {
 public:
  grpc::Status GetStatus(grpc::ServerContext*, const farm::v1::GetStatusRequest*,
                         farm::v1::GetStatusResponse* response) override {
    response->set_device_id("d1");
    return grpc::Status::OK;
  }
};

// One lab, one plaintext server and one mutual-TLS server for the whole run.
struct Servers {
  Servers() {
    // `bazel run` starts in the runfiles tree's workspace directory, where
    // TestLab finds tools/pki through TEST_SRCDIR (set only under `bazel test`).
    setenv("TEST_SRCDIR", "..", /*overwrite=*/0);
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string dir = std::string(tmp != nullptr ? tmp : "/tmp") + "/tls_benchmark_lab";
    std::filesystem::remove_all(dir);
    lab = std::make_unique<testing::TestLab>(dir);
    GrpcServerOptions options;
    options.services = {&service};
    plaintext = *GrpcServer::Start(options);
    PeerRule controllers;
    controllers.lab = lab->name();
    controllers.kind = SpiffeId::Kind::kController;
    options.credentials =
        MakeServerCredentials(lab->Device("d1"), ClientCertificates::kRequire, controllers);
    mtls = *GrpcServer::Start(options);
    mtls_client = lab->ControllerToAgent("d1");
  }

  StatusAgent service;
  std::unique_ptr<testing::TestLab> lab;
  std::unique_ptr<GrpcServer> plaintext;
  std::unique_ptr<GrpcServer> mtls;
  std::shared_ptr<grpc::ChannelCredentials> mtls_client;
};

Servers& TheServers() {
  static Servers* servers = new Servers;
  return *servers;
}

std::shared_ptr<grpc::Channel> Dial(bool tls) {
  Servers& servers = TheServers();
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);  // a connection of its own
  return grpc::CreateCustomChannel(tls ? servers.mtls->address() : servers.plaintext->address(),
                                   tls ? servers.mtls_client : grpc::InsecureChannelCredentials(),
                                   args);
}

bool Call(farm::v1::AgentService::Stub& stub) {
  grpc::ClientContext context;
  farm::v1::GetStatusResponse response;
  return stub.GetStatus(&context, farm::v1::GetStatusRequest(), &response).ok();
}

// range(0): 0 plaintext, 1 mutual TLS.
void BM_CallOnOpenConnection(benchmark::State& state) {
  auto stub = farm::v1::AgentService::NewStub(Dial(state.range(0) == 1));
  if (!Call(*stub)) state.SkipWithError("the first call failed");
  for (auto _ : state) {
    if (!Call(*stub)) state.SkipWithError("a call failed");
  }
  state.SetLabel(state.range(0) == 1 ? "mutual TLS" : "plaintext");
}
BENCHMARK(BM_CallOnOpenConnection)->Arg(0)->Arg(1)->UseRealTime();

void BM_NewConnectionAndCall(benchmark::State& state) {
  for (auto _ : state) {
    auto stub = farm::v1::AgentService::NewStub(Dial(state.range(0) == 1));
    if (!Call(*stub)) state.SkipWithError("a call failed");
  }
  state.SetLabel(state.range(0) == 1 ? "mutual TLS (handshake included)" : "plaintext");
}
BENCHMARK(BM_NewConnectionAndCall)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace kvmfarm
