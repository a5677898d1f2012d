// farm-agent as a process: the one-shot probe CLI, and the gRPC server on port 0
// answering a real client (capability, status, health, refusals) until SIGTERM.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "common/subprocess.h"
#include "common/testing/grpc_raw.h"
#include "common/testing/run_binary.h"
#include "common/testing/server_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/testing/wait_for.h"
#include "common/tls/testing/test_lab.h"
#include "common/tls/tls_credentials.h"
#include "common/utf8.h"
#include "farm/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::IsOk;
using ::kvmfarm::testing::StatusIs;
using ::kvmfarm::testing::TestLab;
using ::testing::Contains;
using ::testing::HasSubstr;

// The host build, or in farm_agent_arm64_test the arm64 build under
// qemu-aarch64-static (see tests/agent/BUILD.bazel).
std::vector<std::string> Agent() { return testing::CommandUnderTest("agent/farm-agent"); }
std::string Fixture(const std::string& name) {
  return testing::Runfile("tests/fixtures/devices/" + name);
}

ProcessResult RunAgent(const std::vector<std::string>& args) {
  return testing::RunCommand(Agent(), args);
}

using ::kvmfarm::testing::Concat;

TEST(FarmAgentCliTest, ProbePrintsTheReportForAFixture) {
  const ProcessResult result = RunAgent({"--probe", "--sysroot", Fixture("pixel8-stock")});
  EXPECT_TRUE(result.Succeeded()) << result.stderr_data;
  EXPECT_THAT(result.stdout_data, HasSubstr("FAIL  kvm.open"));
  EXPECT_THAT(result.stdout_data, HasSubstr("Verdict: KVM_NO_ACCESS"));
  EXPECT_THAT(result.stdout_data, HasSubstr("Recommendation: TCG only"));
}

TEST(FarmAgentCliTest, ProbeJsonIsAKvmCapability) {
  const ProcessResult result =
      RunAgent({"--probe", "--json", "--sysroot", Fixture("mtk-d9300-stock")});
  ASSERT_TRUE(result.Succeeded()) << result.stderr_data;
  farm::v1::KvmCapability capability;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(result.stdout_data, &capability).ok())
      << result.stdout_data;
  EXPECT_EQ(capability.verdict(), farm::v1::VERDICT_VENDOR_HYPERVISOR_ONLY);
  EXPECT_EQ(capability.hypervisor_kind(), farm::v1::HYPERVISOR_KIND_GENIEZONE);
  EXPECT_EQ(capability.device().soc_marketing_name(), "Dimensity 9300");
}

// A device's bytes that are not UTF-8 (here in soc0/family) made the JSON invalid.
TEST(FarmAgentCliTest, ProbeJsonIsValidUtf8WhateverTheDeviceHolds) {
  const std::string tree = testing::FreshCopyOf(Fixture("sd8gen3-custom"));
  std::ofstream(tree + "/sys/devices/soc0/family", std::ios::trunc) << "Snap\xe0\x9a\x9d"
                                                                    << "dragon \xc3"
                                                                    << "a\n";
  const ProcessResult result = RunAgent({"--probe", "--json", "--sysroot", tree});
  ASSERT_TRUE(result.Succeeded()) << result.stderr_data;
  EXPECT_EQ(ValidUtf8(result.stdout_data), result.stdout_data);
  farm::v1::KvmCapability capability;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(result.stdout_data, &capability).ok());
  const std::string fffd(kUtf8Replacement);
  EXPECT_EQ(capability.device().soc_family(), "Snap" + fffd + fffd + fffd + "dragon " + fffd + "a");
}

TEST(FarmAgentCliTest, ProbeOfThisMachineRuns) {
  const ProcessResult result = RunAgent({"--probe"});
  EXPECT_TRUE(result.Succeeded()) << result.stderr_data;
  EXPECT_THAT(result.stdout_data, HasSubstr("Verdict: "));
}

TEST(FarmAgentCliTest, BadInputsAreOneClearLineAndExit2) {
  TestLab lab(testing::FreshTestDir("-lab"));
  const struct {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--probe", "--sysroot", "/nonexistent/tree"}, "--sysroot '/nonexistent/tree'"},
      {{"--probe", "--props", "/nonexistent/props.txt"}, "--props"},
      {{"--probe", "stray"}, "unexpected argument 'stray'"},
      {{"--sysroot", Fixture("sd835"), "--insecure", "--work-dir", "/proc/kvmfarm-no/work"},
       "cannot create --work-dir '/proc/kvmfarm-no/work'"},
      {{"--listen", "nonsense"}, "not host:port"},
      // No name service in the static agent: host names are refused at start.
      {{"--sysroot", Fixture("sd835"), "--controller", "lab-ctl:7421"},
       "--controller 'lab-ctl:7421': give an IP address"},
      // A device id the controller would refuse: said at start.
      {{"--sysroot", Fixture("sd835"), "--device-id", "../phone 1"},
       "--device-id '../phone 1' is not a device id"},
      // Serving takes TLS, or --insecure on loopback; with TLS, a device's
      // certificate that agrees with --device-id and is valid now.
      {{"--sysroot", Fixture("sd835")}, "tools/pki/pki.sh"},
      {{"--sysroot", Fixture("sd835"), "--insecure", "--listen", "0.0.0.0:0"}, "is not loopback"},
      {Concat({"--sysroot", Fixture("sd835"), "--device-id", "d2"}, lab.AgentFlags("d1")),
       "--device-id d2 but --tls_cert is spiffe://testlab/device/d1"},
      {Concat({"--sysroot", Fixture("sd835")}, TestLab::Flags(lab.Controller("c1"))),
       "needs a device certificate"},
      {Concat({"--sysroot", Fixture("sd835")},
              TestLab::Flags(lab.Expired(SpiffeId::Kind::kDevice, "d1"))),
       "expired"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.says);
    const ProcessResult result = RunAgent(c.args);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_THAT(result.stderr_data, HasSubstr(c.says));
  }
}

// With TLS flags, or plaintext (--insecure) for the tests of what an agent does.
std::vector<std::string> PlaintextUnlessTls(std::vector<std::string> args) {
  if (std::find(args.begin(), args.end(), "--tls_ca") == args.end()) args.push_back("--insecure");
  return args;
}

// A farm-agent on 127.0.0.1:0.
class RunningAgent : public testing::ServerProcess {
 public:
  explicit RunningAgent(const std::vector<std::string>& args)
      : ServerProcess(Agent(), "farm-agent", PlaintextUnlessTls(args)) {}
};

// Over TLS an agent is its certificate's device and answers the lab's controllers
// only: every other client fails the handshake, before any RPC runs.
TEST(FarmAgentServerTest, AnswersTheLabsControllersOnly) {
  TestLab lab(testing::FreshTestDir("-lab"));
  RunningAgent agent(Concat({"--sysroot", Fixture("sd835")}, lab.AgentFlags("d1")));
  const std::string address = agent.WaitUntilListening();
  ASSERT_FALSE(address.empty()) << agent.Log();
  const auto status_as = [&](std::shared_ptr<grpc::ChannelCredentials> credentials,
                             farm::v1::GetStatusResponse* response) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    auto stub =
        farm::v1::AgentService::NewStub(grpc::CreateCustomChannel(address, credentials, args));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub->GetStatus(&context, farm::v1::GetStatusRequest(), response).error_code();
  };
  farm::v1::GetStatusResponse status;
  ASSERT_EQ(status_as(lab.ControllerToAgent("d1"), &status), grpc::StatusCode::OK);
  EXPECT_EQ(status.device_id(), "d1");
  PeerRule device;
  device.lab = lab.name();
  device.kind = SpiffeId::Kind::kDevice;
  TestLab other(testing::FreshTestDir("-other"), "otherlab");
  TlsFiles foreign_controller = other.Controller("c1");
  foreign_controller.ca = lab.ca();
  for (const auto& credentials :
       {grpc::InsecureChannelCredentials(), MakeChannelCredentials(lab.CaOnly(), device),
        MakeChannelCredentials(lab.Operator("alice"), device),
        MakeChannelCredentials(lab.Device("d2"), device),
        MakeChannelCredentials(foreign_controller, device)}) {
    EXPECT_EQ(status_as(credentials, &status), grpc::StatusCode::UNAVAILABLE);
  }
}

TEST(FarmAgentServerTest, ServesCapabilityStatusAndHealthThenStopsOnSigterm) {
  RunningAgent agent({"--sysroot", Fixture("pixel8-kvm"), "--device-id", "bench-7"});
  const std::string address = agent.WaitUntilListening();
  ASSERT_FALSE(address.empty()) << "farm-agent never said it was listening";
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = farm::v1::AgentService::NewStub(channel);

  {
    grpc::ClientContext context;
    farm::v1::GetCapabilityResponse response;
    ASSERT_TRUE(stub->GetCapability(&context, farm::v1::GetCapabilityRequest(), &response).ok());
    EXPECT_EQ(response.capability().verdict(), farm::v1::VERDICT_KVM_BOOT_UNTESTED);
    EXPECT_EQ(response.capability().hypervisor_kind(), farm::v1::HYPERVISOR_KIND_PKVM);
    EXPECT_EQ(response.capability().device().device_id(), "bench-7");
    EXPECT_FALSE(response.agent().version().empty());
  }
  {
    grpc::ClientContext context;
    farm::v1::GetCapabilityRequest refresh;
    refresh.set_refresh(true);
    farm::v1::GetCapabilityResponse response;
    ASSERT_TRUE(stub->GetCapability(&context, refresh, &response).ok());
    EXPECT_EQ(response.capability().device().soc_marketing_name(), "Tensor G3");
  }
  {
    grpc::ClientContext context;
    farm::v1::GetStatusResponse response;
    ASSERT_TRUE(stub->GetStatus(&context, farm::v1::GetStatusRequest(), &response).ok());
    EXPECT_EQ(response.device_id(), "bench-7");
    EXPECT_TRUE(response.is_fixture());
    EXPECT_FALSE(response.has_busy_job());
  }
  {
    std::string health;
    grpc::Status status =
        testing::CallRawUnary(channel, "/grpc.health.v1.Health/Check", "", &health);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(health, testing::kHealthServing);
  }
  {
    // A fixture agent refuses measurements: its numbers would be this host's.
    grpc::ClientContext context;
    farm::v1::RunBenchmarkRequest request;
    request.set_attempt_id("a-1");
    request.set_mode(farm::v1::MODE_NATIVE);
    auto reader = stub->RunBenchmark(&context, request);
    farm::v1::RunBenchmarkResponse response;
    EXPECT_FALSE(reader->Read(&response));
    EXPECT_THAT(FromGrpcStatus(reader->Finish()),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fixture")));
  }
  {
    grpc::ClientContext context;
    farm::v1::BootVmRequest request;
    auto reader = stub->BootVm(&context, request);
    farm::v1::BootVmResponse response;
    EXPECT_FALSE(reader->Read(&response));
    EXPECT_THAT(FromGrpcStatus(reader->Finish()), StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  {
    grpc::ClientContext context;
    farm::v1::CancelResponse response;
    EXPECT_THAT(FromGrpcStatus(stub->Cancel(&context, farm::v1::CancelRequest(), &response)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("attempt_id")));
    grpc::ClientContext context2;
    farm::v1::CancelRequest request;
    request.set_attempt_id("nope");
    EXPECT_THAT(FromGrpcStatus(stub->Cancel(&context2, request, &response)),
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("'nope'")));
  }

  ASSERT_EQ(::kill(agent.process().pid(), SIGTERM), 0);
  const ProcessResult result = agent.process().Wait();
  EXPECT_EQ(result.exit_code, 0) << result.Describe() << "\n" << result.stderr_data;
  EXPECT_THAT(result.stderr_data, HasSubstr("shutting down"));
}

// A job stream read to its end: how many progress messages, the result, every
// attempt id seen, and how the call ended.
template <typename Result>
struct JobStream {
  int progress = 0;
  Result result;
  std::set<std::string> attempt_ids;
  absl::Status status;
};

template <typename Result, typename Response>
JobStream<Result> ReadJob(grpc::ClientReaderInterface<Response>* reader) {
  JobStream<Result> out;
  Response response;
  while (reader->Read(&response)) {
    out.attempt_ids.insert(response.attempt_id());
    if (response.has_progress()) ++out.progress;
    if (response.has_result()) out.result = response.result();
  }
  out.status = FromGrpcStatus(reader->Finish());
  return out;
}

farm::v1::WorkloadSpec Workload(const std::string& name, uint64_t size, uint64_t iterations) {
  farm::v1::WorkloadSpec spec;
  spec.set_name(name);
  if (size) spec.set_size_bytes(size);
  if (iterations) spec.set_iterations(iterations);
  return spec;
}

// A benchmark that runs until it is stopped (n-body for ~15 minutes).
farm::v1::RunBenchmarkRequest LongBenchmark(const std::string& attempt_id) {
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id(attempt_id);
  request.set_mode(farm::v1::MODE_NATIVE);
  *request.add_workloads() = Workload("float", 0, 10000000000ull);
  return request;
}

class NativeAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = agent_.WaitUntilListening();
    ASSERT_FALSE(address_.empty());
    stub_ = farm::v1::AgentService::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  }

  // No background boot check: it would hold the job slot while tests start jobs.
  RunningAgent agent_{{"--device-id", "native-test", "--background-boot-check=false",
                       absl::StrCat("--work-dir=", std::getenv("TEST_TMPDIR"))}};
  std::string address_;
  std::unique_ptr<farm::v1::AgentService::Stub> stub_;
};

TEST_F(NativeAgentTest, StreamsProgressThenEveryRequestedWorkload) {
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id("sweep-1/task-1/attempt-1");
  request.set_mode(farm::v1::MODE_NATIVE);
  request.set_repetitions(2);
  *request.add_workloads() = Workload("crypto", 1 << 20, 0);
  *request.add_workloads() = Workload("integer", 0, 1);
  *request.add_workloads() = Workload("float", 0, 1000);
  *request.add_workloads() = Workload("mem_read", 2 << 20, 1);
  *request.add_workloads() = Workload("mem_random", 2 << 20, 10000);
  grpc::ClientContext context;
  JobStream<farm::v1::BenchmarkResult> job =
      ReadJob<farm::v1::BenchmarkResult>(stub_->RunBenchmark(&context, request).get());
  ASSERT_TRUE(job.status.ok()) << job.status;
  EXPECT_THAT(job.attempt_ids, ::testing::ElementsAre("sweep-1/task-1/attempt-1"));
  EXPECT_GE(job.progress, 10);  // a line per repetition of each workload, at least
  const farm::v1::BenchmarkResult& result = job.result;
  EXPECT_TRUE(result.succeeded()) << result.failure_reason() << result.log();
  EXPECT_EQ(result.attempt_id(), "sweep-1/task-1/attempt-1");
  std::vector<std::string> metrics;
  for (const farm::v1::Measurement& m : result.measurements()) {
    metrics.push_back(m.metric());
    EXPECT_EQ(m.values_size(), 2) << m.metric();
    EXPECT_EQ(m.mode(), farm::v1::MODE_NATIVE);
  }
  EXPECT_EQ(metrics, (std::vector<std::string>{"crypto.sha256", "crypto.aes256gcm", "integer.time",
                                               "float.time", "mem_read.bandwidth", "mem_random.ops",
                                               "mem_random.latency_ns"}));
  EXPECT_GE(result.environment_size(), 2);
  // Throttling is checked where the machine exposes CPU caps or trip points, and the
  // result says which; a marked repetition says why.
  const farm::v1::EnvironmentSample& first = result.environment(0);
  const bool checkable =
      first.cpu_max_frequency_khz_size() > 0 || first.thermal_trip_millicelsius_size() > 0;
  EXPECT_THAT(result.notes(), Contains(HasSubstr(checkable ? "throttl"
                                                           : "throttling not checked: the device "
                                                             "exposes neither scaling_max_freq")));
  for (const farm::v1::Measurement& m : result.measurements()) {
    for (uint32_t rep : m.throttled_repetitions()) {
      EXPECT_LT(rep, static_cast<uint32_t>(m.values_size())) << m.metric();
      EXPECT_THAT(m.note(), HasSubstr("throttled in repetition")) << m.metric();
    }
  }
  EXPECT_FALSE(result.provenance().agent_version().empty());
  EXPECT_FALSE(result.provenance().workload_build().empty());
  EXPECT_TRUE(result.has_started_at());
}

TEST_F(NativeAgentTest, RequestsWithWrongFieldsNameTheField) {
  grpc::ClientContext c1;
  farm::v1::RunBenchmarkRequest request = LongBenchmark("");
  EXPECT_THAT(ReadJob<farm::v1::BenchmarkResult>(stub_->RunBenchmark(&c1, request).get()).status,
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("attempt_id")));

  grpc::ClientContext c2;
  request = LongBenchmark("a-1");
  request.mutable_workloads(0)->set_name("gpu");
  EXPECT_THAT(ReadJob<farm::v1::BenchmarkResult>(stub_->RunBenchmark(&c2, request).get()).status,
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("workloads[0]: unknown workload 'gpu'")));
}

TEST_F(NativeAgentTest, OneJobAtATimeAndCancelStopsIt) {
  grpc::ClientContext long_context;
  auto long_reader = stub_->RunBenchmark(&long_context, LongBenchmark("long-1"));
  farm::v1::RunBenchmarkResponse response;
  // The first progress line means the child runs.
  ASSERT_TRUE(long_reader->Read(&response));
  ASSERT_TRUE(response.has_progress());

  grpc::ClientContext second_context;
  auto second = stub_->RunBenchmark(&second_context, LongBenchmark("long-2"));
  farm::v1::RunBenchmarkResponse ignored;
  EXPECT_FALSE(second->Read(&ignored));
  EXPECT_THAT(FromGrpcStatus(second->Finish()),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("busy with job long-1")));

  grpc::ClientContext status_context;
  farm::v1::GetStatusResponse status;
  ASSERT_TRUE(stub_->GetStatus(&status_context, farm::v1::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.busy_job().attempt_id(), "long-1");
  EXPECT_EQ(status.busy_job().kind(), farm::v1::JOB_KIND_BENCHMARK);

  grpc::ClientContext cancel_context;
  farm::v1::CancelRequest cancel;
  cancel.set_attempt_id("long-1");
  farm::v1::CancelResponse cancelled;
  ASSERT_TRUE(stub_->Cancel(&cancel_context, cancel, &cancelled).ok());
  const JobStream<farm::v1::BenchmarkResult> rest =
      ReadJob<farm::v1::BenchmarkResult>(long_reader.get());
  EXPECT_TRUE(rest.status.ok());
  const farm::v1::BenchmarkResult& result = rest.result;
  EXPECT_FALSE(result.succeeded());
  EXPECT_EQ(result.failure_reason(), "cancelled");
  EXPECT_EQ(result.attempt_id(), "long-1");
}

TEST_F(NativeAgentTest, DeadlineKillsTheJob) {
  farm::v1::RunBenchmarkRequest request = LongBenchmark("deadline-1");
  request.mutable_deadline()->set_nanos(500000000);
  grpc::ClientContext context;
  const JobStream<farm::v1::BenchmarkResult> job =
      ReadJob<farm::v1::BenchmarkResult>(stub_->RunBenchmark(&context, request).get());
  EXPECT_TRUE(job.status.ok());
  EXPECT_FALSE(job.result.succeeded());
  EXPECT_THAT(job.result.failure_reason(), HasSubstr("deadline of 500ms exceeded"));
}

TEST_F(NativeAgentTest, ClosingTheStreamCancelsTheJob) {
  {
    grpc::ClientContext context;
    auto reader = stub_->RunBenchmark(&context, LongBenchmark("gone-1"));
    farm::v1::RunBenchmarkResponse response;
    ASSERT_TRUE(reader->Read(&response));
    context.TryCancel();
    while (reader->Read(&response)) {
    }
    reader->Finish();
  }
  // The agent notices within its poll interval and frees the slot; a new job then
  // gets in. Bounded wait for that condition.
  const bool free = testing::WaitFor(
      [this] {
        grpc::ClientContext context;
        farm::v1::GetStatusResponse status;
        const grpc::Status answered =
            stub_->GetStatus(&context, farm::v1::GetStatusRequest(), &status);
        EXPECT_TRUE(answered.ok()) << answered.error_message();
        return !answered.ok() || !status.has_busy_job();  // a dead agent: stop asking
      },
      absl::Seconds(30));
  EXPECT_TRUE(free) << "the job outlived its client";
}

// The agent's thread count, from /proc.
int ThreadsOf(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "Threads:")) return std::stoi(line.substr(8));
  }
  return -1;
}

// Issue 15: streams opened and abandoned in a loop (the first holds the job slot
// until the agent sees its client gone; the rest are refused busy at once) leave
// no threads behind and the slot free.
TEST_F(NativeAgentTest, StreamsOpenedAndAbandonedInALoopLeaveNothingBehind) {
  const pid_t pid = agent_.process().pid();
  const int threads_at_start = ThreadsOf(pid);
  for (int i = 0; i < 50; ++i) {
    grpc::ClientContext context;
    auto reader = stub_->RunBenchmark(&context, LongBenchmark(absl::StrCat("abandoned-", i)));
    context.TryCancel();
    reader->Finish();
  }
  const bool settled = testing::WaitFor(
      [&] {
        grpc::ClientContext context;
        farm::v1::GetStatusResponse status;
        const grpc::Status answered =
            stub_->GetStatus(&context, farm::v1::GetStatusRequest(), &status);
        EXPECT_TRUE(answered.ok()) << answered.error_message();
        // gRPC keeps up to two idle threads ready for the next call.
        return !answered.ok() || (!status.has_busy_job() && ThreadsOf(pid) <= threads_at_start + 2);
      },
      absl::Seconds(30));
  EXPECT_TRUE(settled) << "threads: " << threads_at_start << " at start, " << ThreadsOf(pid)
                       << " now";
}

TEST_F(NativeAgentTest, BootVmUnderTcgStreamsProgressThenTheBoot) {
  farm::v1::BootVmRequest request;
  request.set_attempt_id("boot-1");
  request.set_accel(farm::v1::MODE_TCG);
  request.set_vm_count(2);
  request.mutable_guest()->set_image("x86_64");
  grpc::ClientContext context;
  const JobStream<farm::v1::BootResult> job =
      ReadJob<farm::v1::BootResult>(stub_->BootVm(&context, request).get());
  ASSERT_TRUE(job.status.ok()) << job.status;
  EXPECT_THAT(job.attempt_ids, ::testing::ElementsAre("boot-1"));
  EXPECT_GE(job.progress, 3);  // booting, then each VM in user space
  const farm::v1::BootResult& result = job.result;
  EXPECT_TRUE(result.succeeded()) << result.failure_reason();
  EXPECT_EQ(result.vms_size(), 2);
  EXPECT_EQ(result.accel(), farm::v1::MODE_TCG);
}

TEST_F(NativeAgentTest, BootVmRefusesImagesOutsideItsDirectory) {
  for (const char* image : {"../../etc", "/bin/sh", "no-such-image"}) {
    farm::v1::BootVmRequest request;
    request.set_attempt_id("boot-bad");
    request.set_accel(farm::v1::MODE_TCG);
    request.mutable_guest()->set_image(image);
    grpc::ClientContext context;
    auto reader = stub_->BootVm(&context, request);
    farm::v1::BootVmResponse response;
    EXPECT_FALSE(reader->Read(&response));
    const absl::Status status = FromGrpcStatus(reader->Finish());
    EXPECT_TRUE(absl::IsInvalidArgument(status) || absl::IsNotFound(status)) << status;
    EXPECT_THAT(std::string(status.message()),
                HasSubstr(image[0] == 'n' ? "no guest image" : "guest.image"));
  }
}

// RunBenchmark in a TCG guest of `image`, compared with native in the same job.
farm::v1::BenchmarkResult TcgBenchmark(farm::v1::AgentService::Stub* stub,
                                       const std::string& image) {
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id("tcg-" + image);
  request.set_mode(farm::v1::MODE_TCG);
  request.set_compare_with_native(true);
  // Medians of three: a native run of a millisecond, preempted once on a busy
  // machine, must not make emulation look faster than the host.
  request.set_repetitions(3);
  *request.add_workloads() = Workload("crypto", 1 << 20, 0);
  *request.add_workloads() = Workload("float", 0, 100000);
  request.mutable_guest()->set_memory_mib(256);
  if (!image.empty()) request.mutable_guest()->set_image(image);
  grpc::ClientContext context;
  const JobStream<farm::v1::BenchmarkResult> job =
      ReadJob<farm::v1::BenchmarkResult>(stub->RunBenchmark(&context, request).get());
  EXPECT_TRUE(job.status.ok()) << job.status;
  const farm::v1::BenchmarkResult& result = job.result;
  EXPECT_TRUE(result.succeeded()) << result.failure_reason();
  std::map<farm::v1::Mode, int> per_mode;
  for (const farm::v1::Measurement& m : result.measurements()) {
    ++per_mode[m.mode()];
    if (m.mode() == farm::v1::MODE_TCG) {
      EXPECT_TRUE(m.has_percent_of_native()) << m.metric();
      // Emulation is slower than the machine it runs on.
      EXPECT_GT(m.percent_of_native(), 0);
      EXPECT_LT(m.percent_of_native(), 100) << m.metric();
    }
  }
  EXPECT_EQ(per_mode[farm::v1::MODE_NATIVE], 3);
  EXPECT_EQ(per_mode[farm::v1::MODE_TCG], 3);
  EXPECT_TRUE(result.guest_boot().vms_size() > 0 && result.guest_boot().vms(0).reached_userspace());
  // Provenance: which agent, kernel, QEMU and image measured it (issue 20).
  EXPECT_FALSE(result.provenance().agent_version().empty());
  EXPECT_FALSE(result.provenance().kernel_release().empty());
  EXPECT_THAT(result.provenance().qemu_version(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+.*"));
  EXPECT_EQ(result.provenance().guest_image_sha256().size(), 64u);
  // The host was sampled during both runs, and each run's throttling check says
  // what it found (issue 21): native's note, prefixed, and the guest's own.
  EXPECT_GE(result.environment_size(), 4);
  int throttle_notes = 0;
  for (const std::string& note : result.notes()) {
    if (note.find("throttl") != std::string::npos) ++throttle_notes;
  }
  EXPECT_EQ(throttle_notes, 2) << ::testing::PrintToString(result.notes());
  return result;
}

TEST_F(NativeAgentTest, TcgBenchmarkComparesWithNativeInOneJob) { TcgBenchmark(stub_.get(), ""); }

// The arm64 image carries the arm64 farm-workload: on this x86 host only TCG runs
// it (on a phone -accel kvm takes the same image).
TEST_F(NativeAgentTest, TcgBenchmarkInAnArm64Guest) {
  const farm::v1::BenchmarkResult result = TcgBenchmark(stub_.get(), "arm64");
  EXPECT_EQ(result.guest_boot().guest_arch(), farm::v1::CPU_ARCH_ARM64);
  EXPECT_EQ(result.guest().cpu_model(), "cortex-a72");
}

TEST(FarmAgentServerTest, TheBackgroundBootCheckDecidesTheVerdict) {
  RunningAgent agent({"--device-id", "boot-check"});
  const std::string address = agent.WaitUntilListening();
  ASSERT_FALSE(address.empty());
  auto stub = farm::v1::AgentService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  // Bounded wait for the check to land in the cached capability.
  farm::v1::KvmCapability capability;
  const bool checked = testing::WaitFor(
      [&stub, &capability] {
        grpc::ClientContext context;
        farm::v1::GetCapabilityResponse response;
        const grpc::Status answered =
            stub->GetCapability(&context, farm::v1::GetCapabilityRequest(), &response);
        EXPECT_TRUE(answered.ok()) << answered.error_message();
        if (!answered.ok()) return true;  // a dead agent: stop asking
        capability = response.capability();
        for (const farm::v1::Check& check : capability.checks()) {
          if (check.name() == "kvm.boot_check") return true;
        }
        return false;
      },
      absl::Seconds(60));
  ASSERT_TRUE(checked) << "no boot check within a minute";
  // Whatever this machine is, a smoke-tested KVM is now READY or BOOT_FAILED
  // unless the check could not run (then it says why, as a SKIP).
  if (capability.kvm_node().smoke_test().outcome() == farm::v1::OUTCOME_PASS &&
      capability.has_kvm_boot_check()) {
    EXPECT_THAT(capability.verdict(),
                ::testing::AnyOf(farm::v1::VERDICT_KVM_READY, farm::v1::VERDICT_KVM_BOOT_FAILED));
  }
}

TEST(FarmAgentServerTest, ServesAfterCreatingItsWorkDirectory) {
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/phone/kvmfarm/work");
  RunningAgent agent({"--sysroot", Fixture("sd835"), "--work-dir", dir});
  ASSERT_FALSE(agent.WaitUntilListening().empty());
  struct stat st;
  EXPECT_TRUE(stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) << dir;
  EXPECT_THAT(agent.Log(), HasSubstr("work directory " + dir));
}

// What jobs leave in `work_dir` (the io file, scratch disks, QMP directories) and
// the agents' own directories, as paths relative to it.
std::set<std::string> JobFilesIn(const std::string& work_dir) {
  std::set<std::string> found;
  std::error_code error;
  for (auto it = std::filesystem::recursive_directory_iterator(work_dir, error);
       !error && it != std::filesystem::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    for (const char* prefix : {"farm-workload-io", "farm-scratch-", "kvmfarm-qmp-", "farm-agent"}) {
      if (absl::StartsWith(name, prefix)) {
        found.insert(it->path().lexically_relative(work_dir).string());
      }
    }
  }
  return found;
}

// Whether some process has a file under `dir` open (farm-workload's io file).
bool SomeProcessHasAFileOpenIn(const std::string& dir) {
  std::error_code error;
  for (const auto& process : std::filesystem::directory_iterator("/proc", error)) {
    std::error_code ignored;
    for (const auto& fd : std::filesystem::directory_iterator(process.path() / "fd", ignored)) {
      const std::string target = std::filesystem::read_symlink(fd.path(), ignored).string();
      if (absl::StartsWith(target, dir + "/")) return true;
    }
  }
  return false;
}

// An agent killed (SIGKILL) in the middle of a native io job: whatever it left is
// in its own directory, and the next agent on the same work directory removes it.
TEST(FarmAgentServerTest, AKilledAgentsFilesAreGoneWhenTheNextOneStarts) {
  const std::string work_dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/shared-work");
  std::filesystem::remove_all(work_dir);
  std::filesystem::create_directories(work_dir);
  struct statfs fs;
  ASSERT_EQ(statfs(work_dir.c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) GTEST_SKIP() << "TEST_TMPDIR is a tmpfs: io refuses it";
  const std::vector<std::string> flags = {"--background-boot-check=false",
                                          "--work-dir=" + work_dir};

  RunningAgent killed(flags);
  const std::string address = killed.WaitUntilListening();
  ASSERT_FALSE(address.empty());
  const std::string dead_dir = absl::StrCat("farm-agent.", killed.process().pid());
  auto stub = farm::v1::AgentService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  farm::v1::RunBenchmarkRequest request;
  request.set_attempt_id("io-killed");
  request.set_mode(farm::v1::MODE_NATIVE);
  *request.add_workloads() = Workload("io", uint64_t{2} << 30, 0);
  grpc::ClientContext context;
  auto reader = stub->RunBenchmark(&context, request);
  ASSERT_TRUE(testing::WaitFor([&] { return SomeProcessHasAFileOpenIn(work_dir); }))
      << "the io file was never open\n"
      << killed.Log();

  ASSERT_EQ(::kill(killed.process().pid(), SIGKILL), 0);
  killed.process().Wait();
  context.TryCancel();
  reader->Finish();
  // farm-workload dies with its parent (PR_SET_PDEATHSIG), closing the file.
  EXPECT_TRUE(testing::WaitFor([&] { return !SomeProcessHasAFileOpenIn(work_dir); }));
  for (const std::string& left : JobFilesIn(work_dir)) {
    EXPECT_TRUE(left == dead_dir || absl::StartsWith(left, dead_dir + "/"))
        << left << " was left outside the dead agent's directory " << dead_dir;
  }

  RunningAgent next(flags);
  ASSERT_FALSE(next.WaitUntilListening().empty());
  EXPECT_THAT(JobFilesIn(work_dir),
              ::testing::ElementsAre(absl::StrCat("farm-agent.", next.process().pid())));
  EXPECT_THAT(next.Log(),
              HasSubstr("removed a dead agent's directory " + work_dir + "/" + dead_dir));
}

TEST(FarmAgentServerTest, TwoAgentsCannotShareAPort) {
  RunningAgent first({"--sysroot", Fixture("sd835")});
  const std::string address = first.WaitUntilListening();
  ASSERT_FALSE(address.empty());
  const ProcessResult second =
      RunAgent({"--sysroot", Fixture("sd835"), "--insecure", "--listen", address});
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_THAT(second.stderr_data, HasSubstr("cannot listen on " + address));
}

}  // namespace
}  // namespace kvmfarm
