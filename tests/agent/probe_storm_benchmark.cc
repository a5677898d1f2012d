// probe_storm_benchmark: what N concurrent GetCapability{refresh} calls do to a real
// farm-agent (this host, sysroot "/"), issue 15. While the storm runs and after its
// clients gave up, GetStatus is asked every 100 ms on its own connection; the
// agent's threads and descriptors are sampled from /proc.
//
//   bazel run //tests/agent:probe_storm_benchmark -- --concurrency=300
//
// Prints the agent's threads and descriptors (start, peak, end), how the storm's
// calls ended, GetStatus latency p50/max during the storm, and how long after the
// clients gave up GetStatus answered within 100 ms again.
#include <dirent.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/server_process.h"
#include "farm/v1/agent.grpc.pb.h"

ABSL_FLAG(int, concurrency, 50, "Concurrent GetCapability{refresh} calls.");
ABSL_FLAG(absl::Duration, client_deadline, absl::Seconds(2), "Each storm call's deadline.");
ABSL_FLAG(absl::Duration, recovery_limit, absl::Minutes(4),
          "Give up waiting for GetStatus to answer within 100 ms after this long.");
ABSL_FLAG(std::string, agent, "agent/farm-agent", "The farm-agent binary (a runfile).");

namespace kvmfarm {
namespace {

constexpr absl::Duration kStatusInterval = absl::Milliseconds(100);
constexpr absl::Duration kAnsweredQuickly = absl::Milliseconds(100);

// Threads and open descriptors of a process, from /proc.
struct ProcessLoad {
  int threads = 0;
  int descriptors = 0;
};

ProcessLoad ReadLoad(pid_t pid) {
  ProcessLoad load;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) load.threads = std::stoi(line.substr(8));
  }
  if (DIR* fds = ::opendir(absl::StrCat("/proc/", pid, "/fd").c_str())) {
    while (const dirent* entry = ::readdir(fds)) {
      if (entry->d_name[0] != '.') ++load.descriptors;
    }
    ::closedir(fds);
  }
  return load;
}

// Samples the agent's load every 20 ms until destroyed; keeps the peak.
class LoadSampler {
 public:
  explicit LoadSampler(pid_t pid) : pid_(pid), thread_([this] { Run(); }) {}
  ~LoadSampler() {
    stop_ = true;
    thread_.join();
  }
  ProcessLoad peak() {
    absl::MutexLock lock(&mu_);
    return peak_;
  }

 private:
  void Run() {
    while (!stop_) {
      const ProcessLoad now = ReadLoad(pid_);
      {
        absl::MutexLock lock(&mu_);
        peak_.threads = std::max(peak_.threads, now.threads);
        peak_.descriptors = std::max(peak_.descriptors, now.descriptors);
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  const pid_t pid_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  ProcessLoad peak_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// One GetStatus call's latency; a failure (deadline, refusal) counts as its time.
absl::Duration TimeGetStatus(farm::v1::AgentService::Stub* stub, bool* ok) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  farm::v1::GetStatusResponse response;
  const absl::Time start = absl::Now();
  *ok = stub->GetStatus(&context, farm::v1::GetStatusRequest(), &response).ok();
  return absl::Now() - start;
}

// The storm: every call at once, each with `deadline`; how they ended, by code.
std::map<grpc::StatusCode, int> Storm(farm::v1::AgentService::Stub* stub, int calls,
                                      absl::Duration deadline) {
  absl::Mutex mu;
  std::map<grpc::StatusCode, int> outcomes;
  std::vector<std::thread> clients;
  for (int i = 0; i < calls; ++i) {
    clients.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
      farm::v1::GetCapabilityRequest request;
      request.set_refresh(true);
      farm::v1::GetCapabilityResponse response;
      const grpc::Status status = stub->GetCapability(&context, request, &response);
      absl::MutexLock lock(&mu);
      ++outcomes[status.error_code()];
    });
  }
  for (std::thread& client : clients) client.join();
  return outcomes;
}

std::unique_ptr<farm::v1::AgentService::Stub> NewStub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
  return farm::v1::AgentService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

int Run() {
  testing::ServerProcess agent(absl::GetFlag(FLAGS_agent), "farm-agent",
                               {"--sysroot=/", "--background-boot-check=false", "--insecure"});
  const std::string address = agent.WaitUntilListening();
  if (address.empty()) {
    std::cerr << "farm-agent did not start:\n" << agent.Log();
    return 1;
  }
  const pid_t pid = agent.process().pid();
  auto storm_stub = NewStub(address);
  auto status_stub = NewStub(address);
  bool ok = false;
  TimeGetStatus(status_stub.get(), &ok);  // connected, and the agent answers
  const ProcessLoad start = ReadLoad(pid);

  const int calls = absl::GetFlag(FLAGS_concurrency);
  std::vector<absl::Duration> during;
  int status_failures = 0;
  std::map<grpc::StatusCode, int> outcomes;
  absl::Time clients_gone;
  {
    LoadSampler sampler(pid);
    std::atomic<bool> storming{true};
    std::thread storm([&] {
      outcomes = Storm(storm_stub.get(), calls, absl::GetFlag(FLAGS_client_deadline));
      clients_gone = absl::Now();
      storming = false;
    });
    while (storming) {
      const absl::Time next = absl::Now() + kStatusInterval;
      during.push_back(TimeGetStatus(status_stub.get(), &ok));
      if (!ok) ++status_failures;
      absl::SleepFor(next - absl::Now());
    }
    storm.join();
    absl::Duration recovered = absl::InfiniteDuration();
    const absl::Time give_up = clients_gone + absl::GetFlag(FLAGS_recovery_limit);
    while (absl::Now() < give_up) {
      const absl::Time asked = absl::Now();
      if (TimeGetStatus(status_stub.get(), &ok) <= kAnsweredQuickly && ok) {
        recovered = asked - clients_gone;
        break;
      }
      absl::SleepFor(kStatusInterval);
    }
    const ProcessLoad peak = sampler.peak();
    std::sort(during.begin(), during.end());
    std::cout << "concurrency " << calls << ", client deadline "
              << absl::FormatDuration(absl::GetFlag(FLAGS_client_deadline)) << "\n";
    std::cout << "  storm calls:";
    for (const auto& [code, count] : outcomes) std::cout << " code " << code << " x" << count;
    std::cout << "\n  agent threads: start " << start.threads << ", peak " << peak.threads
              << "\n  agent descriptors: start " << start.descriptors << ", peak "
              << peak.descriptors << "\n";
    if (!during.empty()) {
      std::cout << "  GetStatus during storm (" << during.size() << " calls, " << status_failures
                << " failed): p50 " << absl::FormatDuration(during[during.size() / 2]) << ", max "
                << absl::FormatDuration(during.back()) << "\n";
    }
    std::cout << "  GetStatus within 100 ms again: " << absl::FormatDuration(recovered)
              << " after the clients gave up\n";
  }
  absl::SleepFor(absl::Seconds(1));
  const ProcessLoad end = ReadLoad(pid);
  std::cout << "  1 s after that: threads " << end.threads << ", descriptors " << end.descriptors
            << std::endl;
  return 0;
}

}  // namespace
}  // namespace kvmfarm

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kvmfarm::Run();
}
