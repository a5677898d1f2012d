// Sweeps end to end: a real farm-controller dispatching to real farm-agent
// processes on loopback (two measuring this host, one reading a fixture tree):
// capability + native workloads to completion, cancel, and SIGKILL / restart /
// resume with every stored result counted exactly once.
#include <fcntl.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/testing/run_binary.h"
#include "common/testing/server_process.h"
#include "common/testing/status_matchers.h"
#include "common/testing/test_paths.h"
#include "common/testing/wait_for.h"
#include "common/tls/testing/test_lab.h"
#include "controller/store/open_store.h"
#include "controller/store/testing/postgres_server.h"
#include "farm/v1/agent.grpc.pb.h"
#include "farm/v1/controller.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

using ::kvmfarm::testing::Runfile;
using ::kvmfarm::testing::ServerProcess;
using ::kvmfarm::testing::TestLab;
using ::kvmfarm::testing::WaitFor;
using ::testing::HasSubstr;

// A 2 MiB tmpfs at `dir`, in a mount namespace of this thread's own (processes it
// starts inherit it; nothing outside sees it). False, saying why, where this
// machine won't let a test mount.
bool MountSmallDisk(const std::string& dir, std::string* why) {
  if (::unshare(CLONE_NEWNS) != 0) {
    *why = absl::StrCat("unshare(CLONE_NEWNS): ", std::strerror(errno));
    return false;
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) ||
      ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=2m") != 0) {
    *why = absl::StrCat("mounting a tmpfs at ", dir, ": ", std::strerror(errno));
    return false;
  }
  return true;
}

// Fills the filesystem with the file `path`, leaving about `room` bytes free.
void FillDiskBut(const std::string& path, off_t room) {
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string chunk(64 << 10, 'x');
  off_t written = 0;
  for (ssize_t n; (n = ::write(fd, chunk.data(), chunk.size())) > 0;) written += n;
  ASSERT_EQ(::ftruncate(fd, written > room ? written - room : 0), 0);
  ::close(fd);
}

// The room left on the filesystem of `dir`.
uint64_t FreeBytes(const std::string& dir) {
  struct statvfs fs;
  return ::statvfs(dir.c_str(), &fs) == 0 ? fs.f_bavail * fs.f_frsize : 0;
}

// The files on `dir` and the room left, for a failure message.
std::string DiskReport(const std::string& dir) {
  std::string report;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    absl::StrAppend(&report, entry.path().filename().string(), " ",
                    entry.is_regular_file() ? entry.file_size() : 0, " bytes; ");
  }
  absl::StrAppend(&report, FreeBytes(dir), " bytes free");
  return report;
}

// What GetSweep says is stored: a succeeded task carries its result, and a
// succeeded sweep has only succeeded tasks.
void ExpectEverySuccessStored(const farm::v1::Sweep& sweep) {
  for (const farm::v1::Task& task : sweep.tasks()) {
    if (task.state() == farm::v1::TASK_STATE_SUCCEEDED) {
      EXPECT_TRUE(task.has_capability()) << task.task_id() << " succeeded without a result";
    } else {
      EXPECT_NE(sweep.state(), farm::v1::SWEEP_STATE_SUCCEEDED) << task.task_id();
    }
  }
}

class SweepIntegrationTest : public ::testing::Test {
 protected:
  // Controller and agents over mutual TLS with a throwaway lab's certificates; the
  // test calls as an admin with a token.
  void SetUp() override {
    lab_ = std::make_unique<TestLab>(kvmfarm::testing::FreshTestDir("-lab"));
    admin_token_ = lab_->Token("test-admin", "admin");
    db_ = kvmfarm::testing::FreshTestPath(".db");
    StartController("127.0.0.1:0");
  }

  void StartController(const std::string& listen) {
    std::vector<std::string> args = {"--db", db_, "--heartbeat-interval=200ms", "--listen", listen};
    for (const std::string& flag : lab_->ControllerFlags()) args.push_back(flag);
    for (const std::string& flag : more_controller_flags_) args.push_back(flag);
    controller_ = std::make_unique<ServerProcess>(Runfile("controller/farm-controller"),
                                                  "farm-controller", args);
    address_ = controller_->WaitUntilListening();
    ASSERT_FALSE(address_.empty());
    stub_ = farm::v1::ControllerService::NewStub(
        grpc::CreateChannel(address_, lab_->OperatorCredentials(admin_token_)));
  }

  // An agent with device `id`'s certificate; with a fixture, the certificate names
  // the fixture's device id ("<fixture>-fixture").
  void StartAgent(const std::string& id, const std::string& fixture = "") {
    std::vector<std::string> args = {
        "--controller", agents_reach_.empty() ? address_ : agents_reach_,
        "--background-boot-check=false", absl::StrCat("--work-dir=", std::getenv("TEST_TMPDIR"))};
    if (!fixture.empty()) {
      args.push_back("--sysroot=" + Runfile("tests/fixtures/devices/" + fixture));
    }
    for (const std::string& flag : lab_->AgentFlags(fixture.empty() ? id : fixture + "-fixture")) {
      args.push_back(flag);
    }
    agents_[id] = std::make_unique<ServerProcess>(Runfile("agent/farm-agent"), "farm-agent", args);
    ASSERT_FALSE(agents_[id]->WaitUntilListening().empty());
  }

  size_t OnlineDevices() {
    grpc::ClientContext context;
    farm::v1::ListDevicesResponse response;
    if (!stub_->ListDevices(&context, farm::v1::ListDevicesRequest(), &response).ok()) return 0;
    size_t online = 0;
    for (const auto& d : response.devices()) {
      if (d.state().operational() != farm::v1::OPERATIONAL_STATE_OFFLINE) ++online;
    }
    return online;
  }

  farm::v1::StartSweepRequest Request(std::vector<std::string> ids, uint64_t float_steps) {
    farm::v1::StartSweepRequest request;
    for (const std::string& id : ids)
      request.mutable_spec()->mutable_selector()->add_device_ids(id);
    farm::v1::SweepPlan* plan = request.mutable_spec()->mutable_plan();
    plan->set_capability(true);
    farm::v1::WorkloadSpec* crypto = plan->add_workloads();
    crypto->set_name("crypto");
    crypto->set_size_bytes(1 << 20);
    farm::v1::WorkloadSpec* nbody = plan->add_workloads();
    nbody->set_name("float");
    nbody->set_iterations(float_steps);
    plan->add_workload_modes(farm::v1::MODE_NATIVE);
    request.mutable_spec()->set_repetitions(2);
    return request;
  }

  farm::v1::Sweep Start(const farm::v1::StartSweepRequest& request) {
    grpc::ClientContext context;
    farm::v1::StartSweepResponse response;
    grpc::Status status = stub_->StartSweep(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.sweep();
  }

  farm::v1::Sweep Get(const std::string& id, bool results = false) {
    grpc::ClientContext context;
    farm::v1::GetSweepRequest request;
    request.set_sweep_id(id);
    request.set_include_results(results);
    farm::v1::GetSweepResponse response;
    stub_->GetSweep(&context, request, &response);
    return response.sweep();
  }

  // Reads WatchSweep (of `on`, else the controller) until the sweep ends; the
  // events seen.
  std::vector<farm::v1::WatchSweepResponse> Watch(const std::string& id,
                                                  farm::v1::ControllerService::Stub* on = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    farm::v1::WatchSweepRequest request;
    request.set_sweep_id(id);
    auto reader = (on != nullptr ? on : stub_.get())->WatchSweep(&context, request);
    std::vector<farm::v1::WatchSweepResponse> events;
    farm::v1::WatchSweepResponse event;
    while (reader->Read(&event)) events.push_back(event);
    reader->Finish();
    return events;
  }

  void KillMidSweepAndResume();

  // The controller on a PostgreSQL of the test's own, restarted onto it.
  void MoveControllerToPostgresql() {
    absl::StatusOr<std::unique_ptr<store::testing::PostgresServer>> postgres =
        store::testing::PostgresServer::Start(kvmfarm::testing::FreshTestDir("-pg"));
    ASSERT_TRUE(postgres.ok()) << postgres.status();
    postgres_ = *std::move(postgres);
    ASSERT_TRUE(postgres_->CreateDatabase("farm").ok());
    controller_->process().Kill();
    controller_->process().Wait();
    db_ = postgres_->Uri("farm");
    StartController("127.0.0.1:0");
  }

  // Waits until sweep `id` has a result stored and a benchmark running (the moment
  // to kill or pause the controller that dispatched it).
  bool WaitForABenchmarkInFlight(const std::string& id) {
    return WaitFor([&] {
      const farm::v1::Sweep now = Get(id);
      if (now.counts().succeeded() < 1) return false;
      for (const farm::v1::Task& task : now.tasks()) {
        if (task.kind() == farm::v1::STEP_KIND_BENCHMARK &&
            task.state() == farm::v1::TASK_STATE_RUNNING) {
          return true;
        }
      }
      return false;
    });
  }

  // Waits (2 minutes at most) until sweep `id` has succeeded or failed.
  bool WaitForTheEnd(const std::string& id) {
    return WaitFor(
        [&] {
          const farm::v1::SweepState s = Get(id).state();
          return s == farm::v1::SWEEP_STATE_SUCCEEDED || s == farm::v1::SWEEP_STATE_FAILED;
        },
        absl::Seconds(120));
  }

  // Two replicas on PostgreSQL with 3 s leases, c1 (controller_) leading and c2
  // (returned, at follower_address_) following. nullptr on failure.
  std::unique_ptr<ServerProcess> StartReplicas() {
    more_controller_flags_ = {"--lease_ttl=3s"};
    MoveControllerToPostgresql();
    std::vector<std::string> args = {"--db",
                                     db_,
                                     "--heartbeat-interval=200ms",
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--lease_ttl=3s",
                                     "--access_file",
                                     lab_->access_file()};
    for (const std::string& flag : TestLab::Flags(lab_->Controller("c2"))) args.push_back(flag);
    auto follower = std::make_unique<ServerProcess>(Runfile("controller/farm-controller"),
                                                    "farm-controller", args);
    follower_address_ = follower->WaitUntilListening();
    if (follower_address_.empty()) return nullptr;
    EXPECT_THAT(follower->Log(), HasSubstr("following c1"));
    return follower;
  }

  // StartReplicas, two agents that know both replicas, and a sweep (sweep_id_)
  // whose benchmark is running on c1's dispatch when this returns. nullptr on
  // failure.
  std::unique_ptr<ServerProcess> StartReplicasAndASweep() {
    std::unique_ptr<ServerProcess> follower = StartReplicas();
    if (follower == nullptr) return nullptr;
    agents_reach_ = absl::StrCat(address_, ",", follower_address_);
    StartAgent("host-a");
    StartAgent("host-b");
    if (!WaitFor([&] { return OnlineDevices() == 2; })) return nullptr;
    sweep_id_ = Start(Request({"host-a", "host-b"}, 20000000)).sweep_id();
    return WaitForABenchmarkInFlight(sweep_id_) ? std::move(follower) : nullptr;
  }

  // The sweep, as c2 finishes it once it leads (epoch 2).
  farm::v1::Sweep FinishOnTheFollower(ServerProcess& follower) {
    stub_ = farm::v1::ControllerService::NewStub(
        grpc::CreateChannel(follower_address_, lab_->OperatorCredentials(admin_token_)));
    EXPECT_TRUE(WaitForTheEnd(sweep_id_)) << follower.Log();
    EXPECT_THAT(follower.Log(), HasSubstr("c2 leads as epoch 2"));
    return Get(sweep_id_, true);
  }

  std::string follower_address_;
  std::string sweep_id_;

  // Declared first, so it stops after the controller and agents.
  std::unique_ptr<store::testing::PostgresServer> postgres_;
  std::vector<std::string> more_controller_flags_;
  // What agents are given as --controller when not just address_.
  std::string agents_reach_;
  std::string db_;
  std::string address_;
  std::unique_ptr<ServerProcess> controller_;
  std::map<std::string, std::unique_ptr<ServerProcess>> agents_;
  std::unique_ptr<TestLab> lab_;
  std::string admin_token_;
  std::unique_ptr<farm::v1::ControllerService::Stub> stub_;
};

TEST_F(SweepIntegrationTest, CapabilityAndNativeWorkloadsOnThreeAgents) {
  StartAgent("host-a");
  StartAgent("host-b");
  StartAgent("sd835", "sd835");
  ASSERT_TRUE(WaitFor([&] { return OnlineDevices() == 3; }));

  const absl::Time start = absl::Now();
  farm::v1::Sweep sweep = Start(Request({"host-a", "host-b", "sd835-fixture"}, 100000));
  ASSERT_EQ(sweep.tasks_size(), 6);
  const std::vector<farm::v1::WatchSweepResponse> events = Watch(sweep.sweep_id());
  std::cerr << "sweep of capability + native workloads on 3 agents: " << absl::Now() - start
            << "\n";
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().has_sweep());
  bool saw_progress = false;
  for (const auto& e : events) saw_progress |= e.has_task() && e.task().has_progress();
  EXPECT_TRUE(saw_progress);

  sweep = Get(sweep.sweep_id(), true);
  // The fixture agent refuses to measure (its numbers would be this host's): the
  // sweep ends FAILED for that one task, with the agent's reason, and keeps the rest.
  EXPECT_EQ(sweep.state(), farm::v1::SWEEP_STATE_FAILED);
  EXPECT_EQ(sweep.counts().succeeded(), 5);
  for (const farm::v1::Task& task : sweep.tasks()) {
    if (task.device_id() == "sd835-fixture" && task.kind() == farm::v1::STEP_KIND_BENCHMARK) {
      EXPECT_EQ(task.state(), farm::v1::TASK_STATE_FAILED);
      EXPECT_THAT(task.status(), HasSubstr("fixture"));
    } else if (task.kind() == farm::v1::STEP_KIND_CAPABILITY &&
               task.device_id() == "sd835-fixture") {
      EXPECT_EQ(task.capability().verdict(), farm::v1::VERDICT_NO_HYPERVISOR_MODE);
    } else if (task.kind() == farm::v1::STEP_KIND_BENCHMARK) {
      ASSERT_EQ(task.state(), farm::v1::TASK_STATE_SUCCEEDED) << task.status();
      EXPECT_EQ(task.benchmark().measurements_size(), 3);  // sha256, aes256gcm, float.time
      EXPECT_EQ(task.benchmark().measurements(0).values_size(), 2);
    }
  }
}

TEST_F(SweepIntegrationTest, TheMatrixAndComparisonAnswerFromRealSweeps) {
  StartAgent("host-a");
  StartAgent("pixel8-stock", "pixel8-stock");
  ASSERT_TRUE(WaitFor([&] { return OnlineDevices() == 2; }));
  farm::v1::StartSweepRequest request = Request({"host-a"}, 100000);
  const farm::v1::Sweep first = Start(request);
  Watch(first.sweep_id());
  farm::v1::StartSweepRequest capability_only;
  capability_only.mutable_spec()->mutable_selector()->add_device_ids("pixel8-stock-fixture");
  capability_only.mutable_spec()->mutable_plan()->set_capability(true);
  Watch(Start(capability_only).sweep_id());
  const farm::v1::Sweep second = Start(request);
  Watch(second.sweep_id());

  grpc::ClientContext context;
  farm::v1::GetMatrixRequest matrix_request;
  farm::v1::GetMatrixResponse matrix;
  ASSERT_TRUE(stub_->GetMatrix(&context, matrix_request, &matrix).ok());
  ASSERT_EQ(matrix.rows_size(), 2);
  for (const farm::v1::MatrixRow& row : matrix.rows()) {
    if (row.key() == "pixel8-stock-fixture") {
      EXPECT_TRUE(row.is_fixture());
      EXPECT_EQ(row.verdict(), farm::v1::VERDICT_KVM_NO_ACCESS);
      EXPECT_EQ(row.cells_size(), 0);  // nothing measured: no cell
      continue;
    }
    EXPECT_FALSE(row.is_fixture());
    ASSERT_EQ(row.cells_size(), 3);
    for (const farm::v1::MatrixCell& cell : row.cells()) {
      EXPECT_TRUE(cell.has_native()) << cell.metric();
      EXPECT_EQ(cell.native().samples(), 2u);
      EXPECT_EQ(cell.native().samples_requested(), 2u);
      EXPECT_EQ(cell.native().sweep_id(), second.sweep_id());  // the latest
      EXPECT_FALSE(cell.has_kvm());
    }
  }

  grpc::ClientContext compare_context;
  farm::v1::CompareSweepsRequest compare;
  compare.set_sweep_a(first.sweep_id());
  compare.set_sweep_b(second.sweep_id());
  compare.set_threshold_percent(1000);  // same machine twice: nothing moves that much
  farm::v1::CompareSweepsResponse changes;
  ASSERT_TRUE(stub_->CompareSweeps(&compare_context, compare, &changes).ok());
  ASSERT_EQ(changes.changes_size(), 3);
  // Two repetitions a side can show nothing either way: inconclusive, with the test
  // and the sample counts that say why.
  for (const auto& c : changes.changes()) {
    EXPECT_EQ(c.label(), farm::v1::CHANGE_LABEL_INCONCLUSIVE);
    EXPECT_EQ(c.samples_a(), 2u);
    EXPECT_EQ(c.samples_b(), 2u);
    EXPECT_GE(c.p_value(), 0.3);
  }
  ASSERT_EQ(changes.verdict_changes_size(), 1);
  EXPECT_EQ(changes.verdict_changes(0).label(), farm::v1::CHANGE_LABEL_UNCHANGED);

  grpc::ClientContext logs_context;
  farm::v1::GetTaskLogsRequest logs_request;
  logs_request.set_task_id(second.sweep_id() + "/t1");
  farm::v1::GetTaskLogsResponse logs;
  ASSERT_TRUE(stub_->GetTaskLogs(&logs_context, logs_request, &logs).ok());
  ASSERT_EQ(logs.attempts_size(), 1);
  EXPECT_EQ(logs.attempts(0).outcome(), "result stored");
  EXPECT_THAT(logs.attempts(0).raw_result_json(), HasSubstr("crypto.sha256"));
}

TEST_F(SweepIntegrationTest, CancelStopsTheRunningJobOnItsAgent) {
  StartAgent("host-a");
  ASSERT_TRUE(WaitFor([&] { return OnlineDevices() == 1; }));
  farm::v1::StartSweepRequest request = Request({"host-a"}, 10000000000ull);
  request.mutable_spec()->mutable_plan()->set_capability(false);
  farm::v1::Sweep sweep = Start(request);
  ASSERT_TRUE(WaitFor([&] { return Get(sweep.sweep_id()).counts().running() == 1; }));
  grpc::ClientContext context;
  farm::v1::CancelSweepRequest cancel;
  cancel.set_sweep_id(sweep.sweep_id());
  cancel.set_reason("test over");
  farm::v1::CancelSweepResponse cancelled;
  ASSERT_TRUE(stub_->CancelSweep(&context, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.sweep().state(), farm::v1::SWEEP_STATE_CANCELLED);
  // The agent's job is gone, not left measuring for a quarter of an hour.
  grpc::ClientContext status_context;
  farm::v1::ListDevicesResponse devices;
  ASSERT_TRUE(stub_->ListDevices(&status_context, farm::v1::ListDevicesRequest(), &devices).ok());
  auto agent = farm::v1::AgentService::NewStub(grpc::CreateChannel(
      devices.devices(0).agent_address(), lab_->ControllerToAgent(devices.devices(0).device_id())));
  EXPECT_TRUE(WaitFor(
      [&] {
        grpc::ClientContext c;
        farm::v1::GetStatusResponse status;
        return agent->GetStatus(&c, farm::v1::GetStatusRequest(), &status).ok() &&
               !status.has_busy_job();
      },
      absl::Seconds(30)));
}

// The controller is SIGKILLed while a benchmark attempt is in flight; its successor
// on the same database finishes the sweep with every result stored exactly once.
void SweepIntegrationTest::KillMidSweepAndResume() {
  StartAgent("host-a");
  StartAgent("host-b");
  ASSERT_TRUE(WaitFor([&] { return OnlineDevices() == 2; }));
  // float.time of 20 M steps (about 2 s a repetition, two repetitions): the
  // kill lands while a benchmark attempt is in flight, after a first result is
  // stored. Waiting for "some task running" was not enough: a capability task
  // (a fraction of a second) could be the running one and finish before the
  // kill, leaving nothing to abandon.
  farm::v1::Sweep sweep = Start(Request({"host-a", "host-b"}, 20000000));
  ASSERT_TRUE(WaitForABenchmarkInFlight(sweep.sweep_id()));
  ASSERT_EQ(::kill(controller_->process().pid(), SIGKILL), 0);
  controller_->process().Wait();
  StartController(address_);
  ASSERT_TRUE(WaitForTheEnd(sweep.sweep_id())) << controller_->Log();
  sweep = Get(sweep.sweep_id(), true);
  EXPECT_EQ(sweep.state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  int64_t values = 0;
  for (const farm::v1::Task& task : sweep.tasks()) {
    for (const farm::v1::Measurement& m : task.benchmark().measurements())
      values += m.values_size();
  }
  // 2 devices x (sha256 + aes256gcm + float.time) x 2 repetitions.
  EXPECT_EQ(values, 12);
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(db_, "");
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<int64_t> rows = (*store)->CountMeasurements();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, 12) << "stored raw measurements, every repetition, exactly once";
  // The attempt in flight at the kill was abandoned and dispatched again.
  int64_t attempts = 0;
  for (const farm::v1::Task& task : sweep.tasks()) {
    absl::StatusOr<std::vector<store::StoredAttempt>> recorded =
        (*store)->TaskAttempts(task.task_id());
    ASSERT_TRUE(recorded.ok());
    attempts += static_cast<int64_t>(recorded->size());
  }
  EXPECT_GT(attempts, 4);
  std::cerr << "restart test: " << *rows << " measurement rows stored, " << values
            << " expected; attempts recorded: " << attempts << " for 4 tasks\n";
}

TEST_F(SweepIntegrationTest, KilledControllerResumesAndStoresEveryResultOnce) {
  KillMidSweepAndResume();
}

// The same on PostgreSQL (issue 17): the controller's successor resumes from the
// server's database.
TEST_F(SweepIntegrationTest, KilledControllerOnPostgresqlResumesAndStoresEveryResultOnce) {
  MoveControllerToPostgresql();
  KillMidSweepAndResume();
}

// Two replicas on one database (issue 18): the leader (c1) is SIGKILLed while a
// benchmark runs; the follower (c2) takes the lease when it runs out, resumes the
// sweep (the attempt in flight cancelled on its agent and given an outcome),
// the agents move to it by themselves, and every result is stored exactly once.
TEST_F(SweepIntegrationTest, ALeaderKilledMidSweepIsReplacedAndNothingIsLostOrStoredTwice) {
  std::unique_ptr<ServerProcess> follower = StartReplicasAndASweep();
  ASSERT_NE(follower, nullptr);
  ASSERT_EQ(::kill(controller_->process().pid(), SIGKILL), 0);
  controller_->process().Wait();
  farm::v1::Sweep sweep = FinishOnTheFollower(*follower);
  EXPECT_EQ(sweep.state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(db_, "");
  ASSERT_TRUE(store.ok()) << store.status();
  // 2 devices x (sha256 + aes256gcm + float.time) x 2 repetitions, once each.
  EXPECT_THAT((*store)->CountMeasurements(), ::kvmfarm::testing::IsOkAndHolds(12));
  int abandoned = 0;
  for (const farm::v1::Task& task : sweep.tasks()) {
    absl::StatusOr<std::vector<store::StoredAttempt>> attempts =
        (*store)->TaskAttempts(task.task_id());
    ASSERT_TRUE(attempts.ok());
    for (const store::StoredAttempt& attempt : attempts.value()) {
      EXPECT_FALSE(attempt.outcome.empty()) << attempt.attempt_id << " has no outcome";
      if (absl::StartsWith(attempt.outcome, "abandoned")) ++abandoned;
    }
  }
  EXPECT_GE(abandoned, 1) << "the attempt in flight at the kill";
  // Either replica says who leads now, and lists both.
  grpc::ClientContext context;
  farm::v1::ListControllersResponse controllers;
  ASSERT_TRUE(
      stub_->ListControllers(&context, farm::v1::ListControllersRequest(), &controllers).ok());
  EXPECT_EQ(controllers.leader(), "c2");
  EXPECT_EQ(controllers.epoch(), 2u);
  ASSERT_EQ(controllers.replicas_size(), 2);
  EXPECT_EQ(controllers.replicas(0).name(), "c1");
  EXPECT_FALSE(controllers.replicas(0).leader());
  EXPECT_EQ(controllers.replicas(1).address(), follower_address_);
  EXPECT_TRUE(controllers.replicas(1).leader());
  // The agents that heartbeated to c1 moved to c2 on their own and stay online
  // there: with 200 ms heartbeats a device not heard from is offline within
  // 600 ms, and the sweep took seconds to finish after the kill.
  EXPECT_TRUE(WaitFor([&] { return OnlineDevices() == 2; })) << follower->Log();
  for (const auto& [id, agent] : agents_) {
    EXPECT_THAT(agent->Log(), HasSubstr("registered with the controller at " + follower_address_))
        << id;
  }
}

// The follower SIGKILLed mid-sweep: nothing changes; the leader finishes the
// sweep, every result stored once, and still leads as epoch 1.
TEST_F(SweepIntegrationTest, AFollowerKilledMidSweepChangesNothing) {
  std::unique_ptr<ServerProcess> follower = StartReplicasAndASweep();
  ASSERT_NE(follower, nullptr);
  ASSERT_EQ(::kill(follower->process().pid(), SIGKILL), 0);
  follower->process().Wait();
  ASSERT_TRUE(WaitForTheEnd(sweep_id_)) << controller_->Log();
  EXPECT_EQ(Get(sweep_id_).state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(db_, "");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT((*store)->CountMeasurements(), ::kvmfarm::testing::IsOkAndHolds(12));
  grpc::ClientContext context;
  farm::v1::ListControllersResponse controllers;
  ASSERT_TRUE(
      stub_->ListControllers(&context, farm::v1::ListControllersRequest(), &controllers).ok());
  EXPECT_EQ(controllers.leader(), "c1");
  EXPECT_EQ(controllers.epoch(), 1u);
}

// The leader paused (SIGSTOP) past its lease: c2 takes over and finishes the
// sweep; c1, continued, learns it was deposed and nothing it does counts: the
// store refuses its epoch, and so does an agent asked with it.
TEST_F(SweepIntegrationTest, APausedLeaderThatWakesUpUnderAnOldEpochIsFenced) {
  std::unique_ptr<ServerProcess> follower = StartReplicasAndASweep();
  ASSERT_NE(follower, nullptr);
  ASSERT_EQ(::kill(controller_->process().pid(), SIGSTOP), 0);
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(follower->Log(), "c2 leads as epoch 2"); }))
      << follower->Log();
  ASSERT_EQ(::kill(controller_->process().pid(), SIGCONT), 0);
  const farm::v1::Sweep sweep = FinishOnTheFollower(*follower);
  EXPECT_EQ(sweep.state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(controller_->Log(), "c2 leads as epoch 2; c1 no longer does");
  })) << controller_->Log();
  absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(db_, "");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT((*store)->CountMeasurements(), ::kvmfarm::testing::IsOkAndHolds(12));
  // c1's epoch, sent to the agents: refused by those c2 has sent work to (at least
  // the one whose attempt it resumed).
  grpc::ClientContext status_context;
  farm::v1::ListDevicesResponse devices;
  ASSERT_TRUE(stub_->ListDevices(&status_context, farm::v1::ListDevicesRequest(), &devices).ok());
  int refusals = 0;
  for (const farm::v1::Device& device : devices.devices()) {
    auto agent = farm::v1::AgentService::NewStub(
        grpc::CreateChannel(device.agent_address(), lab_->ControllerToAgent(device.device_id())));
    grpc::ClientContext context;
    farm::v1::CancelRequest stale;
    stale.set_attempt_id("any");
    stale.set_leader_epoch(1);
    farm::v1::CancelResponse response;
    const grpc::Status refused = agent->Cancel(&context, stale, &response);
    if (refused.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      EXPECT_THAT(refused.error_message(), HasSubstr("leader_epoch 1 is stale"));
      ++refusals;
    }
  }
  EXPECT_GE(refusals, 1);
}

// The database on a disk that fills up mid-sweep: nothing is announced that was
// not stored, and once there is room again every task finishes with its result
// stored once. (A 2 MiB tmpfs, mounted as root in the test's own namespace.)
// Agents that know only the follower: the leader learns of their devices from the
// database and runs the sweep started on the follower; the follower's watchers,
// matrix and cancel all see the leader's work.
TEST_F(SweepIntegrationTest, AFollowerServesEveryCallOnTheLeadersWork) {
  std::unique_ptr<ServerProcess> follower = StartReplicas();
  ASSERT_NE(follower, nullptr);
  auto on_follower = farm::v1::ControllerService::NewStub(
      grpc::CreateChannel(follower_address_, lab_->OperatorCredentials(admin_token_)));
  agents_reach_ = follower_address_;
  StartAgent("host-a");
  StartAgent("host-b");
  // stub_ is the leader's: it knows the devices that registered with c2, online.
  ASSERT_TRUE(WaitFor([&] { return OnlineDevices() == 2; })) << controller_->Log();

  farm::v1::StartSweepResponse started;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        on_follower->StartSweep(&context, Request({"host-a", "host-b"}, 200000), &started).ok());
  }
  const std::vector<farm::v1::WatchSweepResponse> events =
      Watch(started.sweep().sweep_id(), on_follower.get());
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(events.back().has_sweep()) << follower->Log();
  EXPECT_EQ(events.back().sweep().state(), farm::v1::SWEEP_STATE_SUCCEEDED);
  std::set<std::string> ran, succeeded;
  for (const farm::v1::WatchSweepResponse& event : events) {
    if (!event.has_task()) continue;
    if (event.task().state() == farm::v1::TASK_STATE_RUNNING) ran.insert(event.task().task_id());
    if (event.task().state() == farm::v1::TASK_STATE_SUCCEEDED) {
      succeeded.insert(event.task().task_id());
    }
  }
  EXPECT_EQ(succeeded.size(), static_cast<size_t>(started.sweep().tasks_size()));
  EXPECT_FALSE(ran.empty());
  EXPECT_THAT(controller_->Log(), HasSubstr("started on another replica"));

  // The follower's matrix is the leader's, results included.
  auto matrix_of = [](farm::v1::ControllerService::Stub* stub) {
    grpc::ClientContext context;
    farm::v1::GetMatrixResponse response;
    EXPECT_TRUE(stub->GetMatrix(&context, farm::v1::GetMatrixRequest(), &response).ok());
    response.clear_generated_at();
    return response;
  };
  const farm::v1::GetMatrixResponse on_leader = matrix_of(stub_.get());
  ASSERT_GT(on_leader.rows_size(), 0);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(matrix_of(on_follower.get()), on_leader));

  // A cancel asked of the follower is the leader's to do; the answer is the sweep
  // as it ended.
  farm::v1::StartSweepResponse second;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        on_follower->StartSweep(&context, Request({"host-a", "host-b"}, 20000000), &second).ok());
  }
  ASSERT_TRUE(WaitForABenchmarkInFlight(second.sweep().sweep_id()));
  grpc::ClientContext context;
  farm::v1::CancelSweepRequest cancel;
  cancel.set_sweep_id(second.sweep().sweep_id());
  cancel.set_reason("wrong build");
  farm::v1::CancelSweepResponse cancelled;
  const grpc::Status status = on_follower->CancelSweep(&context, cancel, &cancelled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(cancelled.sweep().state(), farm::v1::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(cancelled.sweep().reason(), "wrong build");
  EXPECT_THAT(cancelled.sweep().cancelled_by(), HasSubstr("test-admin"));
  EXPECT_EQ(Get(second.sweep().sweep_id()).state(), farm::v1::SWEEP_STATE_CANCELLED);
}

TEST_F(SweepIntegrationTest, AFullDiskLosesNoResultAndAnnouncesNoneUnstored) {
  const std::string disk = absl::StrCat(std::getenv("TEST_TMPDIR"), "/small-disk");
  std::string why;
  if (!MountSmallDisk(disk, &why)) GTEST_SKIP() << "cannot mount a 2 MiB tmpfs: " << why;
  controller_.reset();
  db_ = disk + "/farm.db";
  StartController("127.0.0.1:0");
  StartAgent("pixel8", "pixel8-stock");
  StartAgent("sd835", "sd835");
  ASSERT_TRUE(WaitFor([&] { return OnlineDevices() == 2; }));
  FillDiskBut(disk + "/ballast", 256 << 10);

  std::vector<std::string> sweeps;
  for (int i = 0; i < 16; ++i) {
    farm::v1::StartSweepRequest request;
    request.mutable_spec()->mutable_selector()->add_device_ids("pixel8-stock-fixture");
    request.mutable_spec()->mutable_selector()->add_device_ids("sd835-fixture");
    request.mutable_spec()->mutable_plan()->set_capability(true);
    grpc::ClientContext context;
    farm::v1::StartSweepResponse response;
    // Refused once the disk is full: then nothing was created.
    if (stub_->StartSweep(&context, request, &response).ok()) {
      sweeps.push_back(response.sweep().sweep_id());
    }
  }
  ASSERT_FALSE(sweeps.empty());
  // Full while the sweeps run: writes are refused, and nothing unstored is announced.
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(controller_->Log(), "database refused") && FreeBytes(disk) < 16384;
  })) << DiskReport(disk)
      << "\n"
      << controller_->Log();
  for (const std::string& id : sweeps) ExpectEverySuccessStored(Get(id, true));

  ASSERT_EQ(::unlink((disk + "/ballast").c_str()), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const std::string& id : sweeps) {
          if (Get(id).state() != farm::v1::SWEEP_STATE_SUCCEEDED) return false;
        }
        return true;
      },
      absl::Minutes(3)))
      << DiskReport(disk) << "\n"
      << controller_->Log();
  for (const std::string& id : sweeps) {
    const farm::v1::Sweep sweep = Get(id, true);
    ExpectEverySuccessStored(sweep);
    for (const farm::v1::Task& task : sweep.tasks()) {
      grpc::ClientContext context;
      farm::v1::GetTaskLogsRequest request;
      request.set_task_id(task.task_id());
      farm::v1::GetTaskLogsResponse logs;
      ASSERT_TRUE(stub_->GetTaskLogs(&context, request, &logs).ok());
      ASSERT_FALSE(logs.attempts().empty()) << task.task_id();
      EXPECT_EQ(logs.attempts(logs.attempts_size() - 1).outcome(), "result stored");
    }
  }
  controller_.reset();
  agents_.clear();
  ::umount2(disk.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace kvmfarm
