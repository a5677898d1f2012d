// How long a silent device takes to go offline when the inventory also lists
// devices whose agents never answer a health ping (issue 15), against a real
// farm-controller process (a benchmark, not a test):
//   bazel run -c opt //controller:liveness_benchmark [-- --unreachable=20
//       --heartbeat_interval=1s]
// By default the --unreachable inventory agents are hung ones: sockets on 127.0.0.1
// that listen and never answer, so every ping waits out its 5 s deadline, the worst
// case. With --unreachable_host the inventory lists unreachable_host:port, port+1,
// ... instead (127.0.0.1 and free ports: agents that refuse at once; a blackholed
// address such as 10.255.255.1 times out like a hung agent where the network drops
// it, but some networks answer it at once). A simulated agent then registers a
// device and falls silent; the figure is the time from its registration to
// ListDevices showing it OFFLINE. The ideal is three intervals plus up to half an
// interval (the liveness check's period): 3.0-3.5 s at 1 s.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/flags.h"
#include "common/testing/server_process.h"
#include "common/testing/wait_for.h"
#include "common/version.h"
#include "farm/v1/controller.grpc.pb.h"

ABSL_FLAG(int32_t, unreachable, 20, "Inventory devices whose agents never answer.");
ABSL_FLAG(std::string, unreachable_host, "",
          "Where those agents are; empty: hung agents on 127.0.0.1 (listen, never answer).");
ABSL_FLAG(int32_t, unreachable_port, 7420, "With --unreachable_host, the first of their ports.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(1),
          "The controller's --heartbeat-interval.");
ABSL_FLAG(int32_t, trials, 3, "Silent devices, one after another.");
ABSL_FLAG(absl::Duration, give_up_after, absl::Minutes(5), "Per trial.");

namespace kvmfarm {
namespace {

farm::v1::OperationalState StateOf(farm::v1::ControllerService::Stub& stub, const std::string& id) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  farm::v1::ListDevicesRequest request;
  request.mutable_selector()->add_device_ids(id);
  farm::v1::ListDevicesResponse response;
  if (!stub.ListDevices(&context, request, &response).ok() || response.devices_size() != 1) {
    return farm::v1::OPERATIONAL_STATE_UNSPECIFIED;
  }
  return response.devices(0).state().operational();
}

// A hung agent: a socket on 127.0.0.1 that completes connections (the kernel does,
// up to the backlog) and never reads or answers. Its address, or "" on error; the
// socket stays open for the process's life.
std::string HungAgent() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return "";
  }
  return absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
}

int Run(const std::string& controller_binary) {
  const std::string dir = absl::StrCat("/tmp/kvmfarm-liveness-", getpid());
  std::filesystem::create_directories(dir);
  const int unreachable = absl::GetFlag(FLAGS_unreachable);
  const absl::Duration interval = absl::GetFlag(FLAGS_heartbeat_interval);
  const std::string host = absl::GetFlag(FLAGS_unreachable_host);
  std::vector<std::string> addresses;
  for (int i = 0; i < unreachable; ++i) {
    addresses.push_back(host.empty()
                            ? HungAgent()
                            : absl::StrCat(host, ":", absl::GetFlag(FLAGS_unreachable_port) + i));
    if (addresses.back().empty()) {
      std::fprintf(stderr, "cannot listen on 127.0.0.1\n");
      return 1;
    }
  }
  {
    std::ofstream inventory(dir + "/fleet.textproto");
    for (int i = 0; i < unreachable; ++i) {
      inventory << "devices { device_id: \"unreachable-" << i << "\" agent_address: \""
                << addresses[i] << "\" }\n";
    }
  }
  testing::ServerProcess controller(
      controller_binary, "farm-controller",
      {"--insecure", "--db=" + dir + "/farm.db", "--inventory=" + dir + "/fleet.textproto",
       "--heartbeat-interval=" + absl::FormatDuration(interval)});
  const std::string address = controller.WaitUntilListening();
  if (address.empty()) {
    std::fprintf(stderr, "farm-controller did not start:\n%s", controller.Log().c_str());
    return 1;
  }
  auto stub = farm::v1::ControllerService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::printf(
      "farm-controller --heartbeat-interval=%s, inventory of %d devices whose agents %s "
      "(%s ... %s)\n",
      absl::FormatDuration(interval).c_str(), unreachable,
      host.empty() ? "hang (listen, never answer)" : "are unreachable",
      addresses.empty() ? "" : addresses.front().c_str(),
      addresses.empty() ? "" : addresses.back().c_str());
  int status = 0;
  for (int trial = 0; trial < absl::GetFlag(FLAGS_trials); ++trial) {
    const std::string id = absl::StrCat("silent-", trial);
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(id);
    request.mutable_agent()->set_api_version(kAgentApiVersion);
    request.set_agent_address("127.0.0.1:1");
    grpc::ClientContext context;
    farm::v1::RegisterAgentResponse response;
    const grpc::Status registered = stub->RegisterAgent(&context, request, &response);
    const absl::Time silent_from = absl::Now();
    if (!registered.ok()) {
      std::fprintf(stderr, "RegisterAgent: %s\n", registered.error_message().c_str());
      status = 1;
      break;
    }
    const bool offline =
        testing::WaitFor([&] { return StateOf(*stub, id) == farm::v1::OPERATIONAL_STATE_OFFLINE; },
                         absl::GetFlag(FLAGS_give_up_after), absl::Milliseconds(20));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - silent_from);
    if (offline) {
      std::printf("silent device %d: offline %.1f s after its last word (ideal %.1f-%.1f s)\n",
                  trial, seconds, absl::ToDoubleSeconds(3 * interval),
                  absl::ToDoubleSeconds(3.5 * interval));
    } else {
      std::printf("silent device %d: still not offline after %.0f s\n", trial, seconds);
      status = 1;
    }
  }
  controller.process().Kill();
  controller.process().Wait();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return status;
}

}  // namespace
}  // namespace kvmfarm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("offline detection with unreachable inventory devices");
  kvmfarm::ParseFlagsOnly(argc, argv, "liveness_benchmark");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return kvmfarm::Run(std::string(argv[0]) + ".runfiles/kvmfarm/controller/farm-controller");
}
