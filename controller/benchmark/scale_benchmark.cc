// The controller at fleet scale, on this machine (a benchmark, not a test):
//   bazel run -c opt //controller:scale_benchmark [-- --devices=10000 --measurements=1000000]
// Prints, one figure a line:
//  * GET /metrics latency on that controller's HTTP side, as Prometheus scrapes it;
//  * heartbeats handled per second by a real farm-controller process with
//    --devices simulated agents (one client process, many sessions) heartbeating
//    every 10 s, and that process's CPU share while handling them; with
//    --replicas=N, N processes on one database, each replica's share;
//  * tasks dispatched per second and scheduler overhead per task (scheduler, fleet
//    and store in process; the agents answer at once);
//  * the controller's resident memory;
//  * ListDevices of the whole fleet, page by page as farmctl reads it, every device
//    carrying this host's capability report (so as large as a real one);
//  * results stored per second while the matrix database fills (--writers threads
//    storing at once, each result its own StoreTaskResult);
//  * GetMatrix latency p50/p99 over a database of --measurements stored values;
//  * with --phases=dashboard: the dashboard's fleet, matrix and device pages over
//    that database, served by a real farm-controller (p50/p99);
//  * with --phases=move: a SQLite lab of --measurements values moved into PostgreSQL.
// --store=sqlite,postgres runs each phase on both, one after the other.
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "agent/probe/probe.h"
#include "common/clock.h"
#include "common/flags.h"
#include "common/testing/server_process.h"
#include "common/version.h"
#include "controller/fleet/fleet.h"
#include "controller/matrix/matrix.h"
#include "controller/scheduler/scheduler.h"
#include "controller/scheduler/testing/fake_agent_client.h"
#include "controller/store/copy_to_postgres.h"
#include "controller/store/open_store.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/summary_cache.h"
#include "controller/store/testing/postgres_server.h"
#include "farm/v1/controller.grpc.pb.h"

ABSL_FLAG(int32_t, devices, 10000, "Simulated agents / devices.");
ABSL_FLAG(int64_t, measurements, 1000000, "Stored measurement values in the matrix database.");
ABSL_FLAG(int32_t, heartbeat_seconds, 30, "How long to drive heartbeats.");
ABSL_FLAG(int32_t, matrix_queries, 50, "GetMatrix calls timed.");
ABSL_FLAG(int32_t, replicas, 1,
          "farm-controller replicas on one database in the heartbeat phase (use with "
          "--store=postgres); the simulated agents are spread over them.");
ABSL_FLAG(int32_t, writers, 16,
          "Threads storing results at once while the matrix database fills (as many as "
          "farm-controller's --max_parallel tasks finish together).");
ABSL_FLAG(std::string, phases, "heartbeat,dispatch,matrix",
          "Which phases run: heartbeat, dispatch, matrix, dashboard (comma-separated), for each "
          "--store; "
          "or move alone: a SQLite lab of --measurements values moved into PostgreSQL; or "
          "takeover alone: two replicas on PostgreSQL, the leader killed 5 times.");
ABSL_FLAG(std::string, store, "sqlite",
          "The database: sqlite, postgres (a PostgreSQL of the benchmark's own, as the tests "
          "start it), or sqlite,postgres for both, one after the other in one run.");

namespace kvmfarm {
namespace {

// CPU seconds used by a process so far (utime + stime from /proc/<pid>/stat).
double CpuSeconds(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  std::getline(stat, line);
  const std::vector<std::string> fields = absl::StrSplit(line.substr(line.rfind(')') + 2), ' ');
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
}

int64_t RssKb(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

// One phase's database: a SQLite file or a PostgreSQL server of its own, removed
// with it. `db` is what farm-controller's --db takes.
struct PhaseDatabase {
  PhaseDatabase(const std::string& kind, const std::string& name) : kind(kind) {
    const std::string base = absl::StrCat("/tmp/kvmfarm-scale-", name, "-", getpid());
    if (kind == "sqlite") {
      db = base + ".db";
      store::RemoveSqliteDatabase(db);
      return;
    }
    dir = base + "-pg";
    std::filesystem::remove_all(dir);
    absl::StatusOr<std::unique_ptr<store::testing::PostgresServer>> started =
        store::testing::PostgresServer::Start(dir);
    if (!started.ok() || !(*started)->CreateDatabase("farm").ok()) {
      std::fprintf(stderr, "cannot start PostgreSQL: %s\n", started.status().ToString().c_str());
      return;
    }
    server = *std::move(started);
    db = server->Uri("farm");
  }
  ~PhaseDatabase() {
    server.reset();
    if (kind == "sqlite") store::RemoveSqliteDatabase(db);
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }

  // The Store on it, as farm-controller opens it.
  std::unique_ptr<store::Store> Open() const {
    absl::StatusOr<std::unique_ptr<store::Store>> store = store::OpenStore(db, "");
    if (!store.ok()) std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::string kind;
  std::string db;
  std::string dir;
  std::unique_ptr<store::testing::PostgresServer> server;
};

// The value at `percent` (50: the median, 100: the largest) of `values`, sorted in
// place.
double Percentile(std::vector<double>& values, size_t percent) {
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, values.size() * percent / 100)];
}

// Heartbeats against a real farm-controller process.
// This host's capability report, for every simulated device (empty if the probe fails).
farm::v1::KvmCapability HostCapability() {
  absl::StatusOr<farm::v1::KvmCapability> probed = probe::RunProbe(probe::ProbeOptions());
  return probed.ok() ? *std::move(probed) : farm::v1::KvmCapability();
}

// The whole fleet through ListDevices at the default page size, following the tokens.
void ListDevicesPhase(farm::v1::ControllerService::Stub& stub) {
  farm::v1::ListDevicesRequest request;
  size_t pages = 0, devices = 0, largest = 0, total = 0;
  const absl::Time start = absl::Now();
  do {
    grpc::ClientContext context;
    farm::v1::ListDevicesResponse response;
    const grpc::Status status = stub.ListDevices(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "ListDevices: %s\n", status.error_message().c_str());
      return;
    }
    ++pages;
    devices += response.devices_size();
    largest = std::max(largest, response.ByteSizeLong());
    total += response.ByteSizeLong();
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  std::printf(
      "ListDevices, the whole fleet page by page: %zu devices in %zu pages, %.0f ms; largest "
      "page %.0f KiB, all pages %.1f MiB (gRPC's default limit: 4 MiB a message)\n",
      devices, pages, absl::ToDoubleMilliseconds(absl::Now() - start), largest / 1024.0,
      total / 1048576.0);
}

// GET `path` on the controller's HTTP side (plaintext, --insecure): latency p50/p99
// over `requests`, and the size of one answer. The first request is timed apart: it
// fills caches (the matrix's summaries) that later ones reuse.
void TimeHttpGet(testing::ServerProcess& controller, const std::string& path, int requests) {
  const int port = controller.HttpPort();
  if (port == 0) {
    std::fprintf(stderr, "no HTTP address in the controller's log\n");
    return;
  }
  httplib::Client client("127.0.0.1", port);
  client.set_tcp_nodelay(true);
  client.set_read_timeout(std::chrono::seconds(60));
  std::vector<double> latencies;
  size_t bytes = 0;
  double first_ms = 0;
  for (int i = 0; i <= requests; ++i) {
    const absl::Time start = absl::Now();
    httplib::Result result = client.Get(path);
    const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (i == 0) {
      first_ms = ms;
    } else {
      latencies.push_back(ms);
    }
    if (!result || result->status != 200) {
      std::fprintf(stderr, "GET %s failed: %s\n", path.c_str(),
                   result ? std::to_string(result->status).c_str()
                          : httplib::to_string(result.error()).c_str());
      return;
    }
    bytes = result->body.size();
  }
  std::printf("GET %s: p50 %.1f ms, p99 %.1f ms over %d requests (%zu bytes; first %.0f ms)\n",
              path.c_str(), Percentile(latencies, 50), Percentile(latencies, 99), requests, bytes,
              first_ms);
}

void TimeMetrics(testing::ServerProcess& controller, int scrapes) {
  TimeHttpGet(controller, "/metrics", scrapes);
}

void HeartbeatPhase(const std::string& kind, const std::string& controller_binary, int devices,
                    int seconds, int replicas) {
  PhaseDatabase database(kind, "heartbeats");
  // Replica r serves the devices i with i % replicas == r, as agents spread over
  // several --controller addresses would be.
  std::vector<std::unique_ptr<testing::ServerProcess>> controllers;
  std::vector<std::unique_ptr<farm::v1::ControllerService::Stub>> stubs;
  for (int r = 0; r < replicas; ++r) {
    controllers.push_back(std::make_unique<testing::ServerProcess>(
        controller_binary, "farm-controller",
        std::vector<std::string>{"--db", database.db, "--heartbeat-interval=10s", "--insecure",
                                 absl::StrCat("--replica=r", r), "--http_listen=127.0.0.1:0"}));
    const std::string address = controllers.back()->WaitUntilListening();
    if (address.empty()) {
      std::fprintf(stderr, "farm-controller did not start:\n%s", controllers.back()->Log().c_str());
      return;
    }
    stubs.push_back(farm::v1::ControllerService::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
  }
  // Sessions by device, written by registrations and read by the heartbeat driver.
  absl::Mutex sessions_mu;
  std::vector<std::string> sessions(devices);
  const farm::v1::KvmCapability capability = HostCapability();
  auto register_device = [&](int i) {
    farm::v1::RegisterAgentRequest request;
    *request.mutable_capability() = capability;
    request.mutable_identity()->set_device_id(absl::StrCat("sim-", i));
    request.mutable_identity()->set_model(absl::StrCat("model-", i % 20));
    request.mutable_agent()->set_api_version(kAgentApiVersion);
    request.set_agent_address(absl::StrCat("127.0.0.1:", 20000 + i));
    grpc::ClientContext context;
    farm::v1::RegisterAgentResponse response;
    if (stubs[i % replicas]->RegisterAgent(&context, request, &response).ok()) {
      absl::MutexLock lock(&sessions_mu);
      sessions[i] = response.session_id();
    }
  };
  // Each simulated agent heartbeats every 10 s once registered (devices/10 per
  // second, spread evenly), from the moment the first registers, as real agents
  // do; one told to register again does. Counted from `counting` on.
  const double rate = devices / 10.0;
  std::atomic<bool> stop_driving{false}, counting{false};
  std::atomic<int64_t> sent{0}, ok{0}, registered_again{0};
  std::vector<std::atomic<int64_t>> registered_again_at(replicas);
  std::thread driver([&] {
    const absl::Time begin = absl::Now();
    int64_t next = 0;
    while (!stop_driving) {
      const int64_t due = static_cast<int64_t>(absl::ToDoubleSeconds(absl::Now() - begin) * rate);
      for (; next < due && !stop_driving; ++next) {
        const int i = static_cast<int>(next % devices);
        farm::v1::HeartbeatRequest request;
        request.set_device_id(absl::StrCat("sim-", i));
        {
          absl::MutexLock lock(&sessions_mu);
          if (sessions[i].empty()) continue;  // not registered yet
          request.set_session_id(sessions[i]);
        }
        grpc::ClientContext context;
        farm::v1::HeartbeatResponse response;
        const bool answered = stubs[i % replicas]->Heartbeat(&context, request, &response).ok();
        if (counting) ++sent;
        if (!answered) continue;
        if (response.register_again()) {
          register_device(i);
          if (counting) {
            ++registered_again;
            ++registered_again_at[i % replicas];
          }
        } else if (counting) {
          ++ok;
        }
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  // Registered from 8 threads, as agents come up together.
  const absl::Time reg_start = absl::Now();
  {
    constexpr int kRegistrars = 8;
    std::vector<std::thread> registrars;
    for (int t = 0; t < kRegistrars; ++t) {
      registrars.emplace_back([&, t] {
        for (int i = t; i < devices; i += kRegistrars) register_device(i);
      });
    }
    for (std::thread& registrar : registrars) registrar.join();
  }
  std::printf("registrations per second: %.0f\n",
              devices / absl::ToDoubleSeconds(absl::Now() - reg_start));
  ListDevicesPhase(*stubs.back());
  absl::SleepFor(absl::Seconds(10));  // one whole heartbeat round after the last registration

  std::vector<double> cpu_before;
  for (const auto& c : controllers) cpu_before.push_back(CpuSeconds(c->process().pid()));
  const absl::Time start = absl::Now();
  counting = true;
  absl::SleepFor(absl::Seconds(seconds));
  counting = false;
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  std::vector<double> cpu_after;
  for (const auto& c : controllers) cpu_after.push_back(CpuSeconds(c->process().pid()));
  stop_driving = true;
  driver.join();
  std::printf(
      "heartbeats handled per second: %.0f (%lld accepted of %lld sent, %lld registered again, "
      "%d devices)\n",
      ok / elapsed, static_cast<long long>(ok), static_cast<long long>(sent),
      static_cast<long long>(registered_again), devices);
  for (int r = 0; r < replicas; ++r) {
    // With several replicas each writes the heartbeats it received, in one write
    // every 5 s, and reads everyone's (the leader to check liveness).
    std::printf(
        "controller%s CPU while handling them: %.1f %% of one core (%lld devices registered "
        "again)\n",
        replicas == 1 ? "" : absl::StrCat(" r", r, r == 0 ? " (leader)" : "").c_str(),
        100 * (cpu_after[r] - cpu_before[r]) / elapsed,
        static_cast<long long>(registered_again_at[r]));
  }
  TimeMetrics(*controllers.front(), 50);
  std::printf("controller RSS with %d devices: %lld MiB\n", devices,
              static_cast<long long>(RssKb(controllers.front()->process().pid()) / 1024));
  if (replicas > 1) {
    // Every replica has every device online: the heartbeats it didn't receive came
    // through the database.
    for (int r = 0; r < replicas; ++r) {
      farm::v1::ListDevicesRequest request;
      request.set_page_size(1000);
      farm::v1::ListDevicesResponse response;
      size_t online = 0;
      do {
        grpc::ClientContext page_context;
        if (!stubs[r]->ListDevices(&page_context, request, &response).ok()) break;
        for (const auto& d : response.devices()) {
          if (d.state().operational() != farm::v1::OPERATIONAL_STATE_OFFLINE) ++online;
        }
        request.set_page_token(response.next_page_token());
      } while (!request.page_token().empty());
      std::printf("replica r%d sees %zu of %d devices online\n", r, online, devices);
    }
  }
  for (const auto& c : controllers) {
    c->process().Kill();
    c->process().Wait();
  }
}

void DispatchPhase(const std::string& kind, int devices) {
  PhaseDatabase database(kind, "dispatch");
  std::unique_ptr<store::Store> store = database.Open();
  if (store == nullptr) return;
  RealClock clock;
  fleet::Fleet fleet(store.get(), &clock, fleet::FleetOptions());
  for (int i = 0; i < devices; ++i) {
    farm::v1::RegisterAgentRequest request;
    request.mutable_identity()->set_device_id(absl::StrCat("sim-", i));
    request.set_agent_address("127.0.0.1:1");
    fleet.Register(request).IgnoreError();
  }
  // Agents that answer at once: the scheduler's own overhead is what is timed.
  scheduler::FakeAgentClient agents;
  scheduler::SchedulerOptions options;
  options.max_parallel = devices;
  std::vector<std::function<void()>> queued;
  scheduler::Scheduler sched(
      store.get(), &fleet, &agents, &clock, options,
      [&queued](std::function<void()> work) { queued.push_back(std::move(work)); });
  farm::v1::StartSweepRequest request;
  request.mutable_spec()->mutable_plan()->set_capability(true);
  const absl::Time start = absl::Now();
  absl::StatusOr<farm::v1::Sweep> sweep = sched.StartSweep(request);
  if (!sweep.ok()) return;
  const int dispatched = sched.Dispatch();
  const double dispatch_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const absl::Time complete_start = absl::Now();
  for (auto& work : queued) work();
  const double complete_seconds = absl::ToDoubleSeconds(absl::Now() - complete_start);
  std::printf(
      "tasks dispatched per second: %.0f (%d tasks, sweep created and dispatched in %.2f s)\n",
      dispatched / dispatch_seconds, dispatched, dispatch_seconds);
  std::printf("scheduler overhead per task: %.0f us to dispatch, %.0f us to store its result\n",
              1e6 * dispatch_seconds / dispatched, 1e6 * complete_seconds / dispatched);
}

std::vector<farm::v1::Device> SimulatedDevices(int devices) {
  std::vector<farm::v1::Device> out;
  for (int d = 0; d < devices; ++d) {
    farm::v1::Device device;
    device.set_device_id(absl::StrCat("sim-", d));
    device.mutable_identity()->set_model(absl::StrCat("model-", d % 20));
    out.push_back(device);
  }
  return out;
}

// Task `t` of the matrix database: 5 metrics x 10 repetitions, on device t % devices,
// in one of the three modes.
farm::v1::Task MatrixTask(int64_t t, int devices) {
  const int metrics = 5;
  const int reps = 10;
  farm::v1::Task task;
  task.set_task_id(absl::StrCat("scale/t", t));
  task.set_sweep_id("scale");
  task.set_device_id(absl::StrCat("sim-", t % devices));
  task.set_state(farm::v1::TASK_STATE_SUCCEEDED);
  task.set_repetitions(reps);
  *task.mutable_finished_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(t);
  for (int m = 0; m < metrics; ++m) {
    farm::v1::Measurement* measurement = task.mutable_benchmark()->add_measurements();
    measurement->set_metric(absl::StrCat("metric.", m));
    measurement->set_mode(static_cast<farm::v1::Mode>(1 + t / devices % 3));
    measurement->set_higher_is_better(true);
    for (int r = 0; r < reps; ++r) measurement->add_values(100 + r);
    measurement->set_median(104.5);
  }
  return task;
}

// About `measurements` values (tasks of 50), stored by `writers` threads at once,
// each result in its own StoreTaskResult as the scheduler stores it.
void FillMatrixDatabase(store::Store& store, int devices, int64_t measurements, int writers) {
  const int64_t tasks = std::max<int64_t>(1, measurements / 50);
  farm::v1::Sweep sweep;
  sweep.set_sweep_id("scale");
  store.CreateSweep(sweep).IgnoreError();
  std::atomic<int64_t> next{0}, failed{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&] {
      for (int64_t t = next++; t < tasks; t = next++) {
        const farm::v1::Task task = MatrixTask(t, devices);
        if (!store.StoreTaskResult(task, task.task_id() + "/a1").ok()) ++failed;
        if (t > 0 && t % 20000 == 0) {
          std::fprintf(stderr, "  %lld of %lld results stored\n", static_cast<long long>(t),
                       static_cast<long long>(tasks));
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "results stored per second: %.0f (%lld results of 5 metrics x 10 repetitions by %d "
      "writers, %lld failed; %lld raw measurements in %.1f s)\n",
      tasks / seconds, static_cast<long long>(tasks), writers,
      static_cast<long long>(failed.load()), static_cast<long long>(*store.CountMeasurements()),
      seconds);
}

// One device's row, as an operator asks for one model or one device.
void TimeOneDeviceMatrix(store::Store& store, const std::vector<farm::v1::Device>& devices,
                         int queries) {
  std::vector<double> latencies;
  for (int q = 0; q < queries; ++q) {
    const absl::Time start = absl::Now();
    const farm::v1::Device& device = devices[q % devices.size()];
    auto summaries = store.LatestSummaries({device.device_id()});
    auto rows = matrix::BuildMatrix({device}, *summaries, farm::v1::GROUP_BY_DEVICE);
    latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::printf("GetMatrix for one device: p50 %.2f ms, p99 %.2f ms\n", Percentile(latencies, 50),
              Percentile(latencies, 99));
}

// The whole fleet by model, every summary read from SQLite each time.
void TimeFleetMatrixFromSqlite(store::Store& store, const std::vector<farm::v1::Device>& devices,
                               int queries) {
  std::vector<double> latencies, reads, builds;
  for (int q = 0; q < std::min(queries, 5); ++q) {
    const absl::Time start = absl::Now();
    auto summaries = store.LatestSummaries({});
    const absl::Time read = absl::Now();
    auto rows = matrix::BuildMatrix(devices, *summaries, farm::v1::GROUP_BY_MODEL);
    latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
    reads.push_back(absl::ToDoubleMilliseconds(read - start));
    builds.push_back(absl::ToDoubleMilliseconds(absl::Now() - read));
  }
  std::printf(
      "GetMatrix for the whole fleet by model, summaries read from the database: p50 %.0f ms, "
      "max %.0f ms (%zu devices; reading %.0f ms, building rows %.0f ms)\n",
      Percentile(latencies, 50), Percentile(latencies, 100), devices.size(), Percentile(reads, 50),
      Percentile(builds, 50));
}

// As farm-controller serves it: summaries from its in-memory cache (the first call
// fills it; a stored result invalidates one device).
void TimeFleetMatrixCached(store::Store& store, const std::vector<farm::v1::Device>& devices,
                           int queries) {
  store::SummaryCache cache(&store);
  std::vector<std::string> ids;
  for (const farm::v1::Device& d : devices) ids.push_back(d.device_id());
  const absl::Time cold_start = absl::Now();
  (void)matrix::BuildMatrix(devices, cache.Latest(ids)->pointers(), farm::v1::GROUP_BY_MODEL);
  const double cold_ms = absl::ToDoubleMilliseconds(absl::Now() - cold_start);
  std::vector<double> latencies;
  for (int q = 0; q < queries; ++q) {
    if (q % 10 == 0) cache.Invalidate(absl::StrCat("sim-", q));  // results keep landing
    const absl::Time start = absl::Now();
    auto rows =
        matrix::BuildMatrix(devices, cache.Latest(ids)->pointers(), farm::v1::GROUP_BY_MODEL);
    latencies.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::printf(
      "GetMatrix for the whole fleet by model, as served (cached summaries): p50 %.0f ms, "
      "p99 %.0f ms; first call %.0f ms\n",
      Percentile(latencies, 50), Percentile(latencies, 99), cold_ms);
}

void MatrixPhase(const std::string& kind, int devices, int64_t measurements, int queries) {
  PhaseDatabase database(kind, "matrix");
  std::unique_ptr<store::Store> store = database.Open();
  if (store == nullptr) return;
  const std::vector<farm::v1::Device> fleet_devices = SimulatedDevices(devices);
  FillMatrixDatabase(*store, devices, measurements, absl::GetFlag(FLAGS_writers));
  TimeOneDeviceMatrix(*store, fleet_devices, queries);
  TimeFleetMatrixFromSqlite(*store, fleet_devices, queries);
  TimeFleetMatrixCached(*store, fleet_devices, queries);
}

// The dashboard's pages (issue 19) over the matrix phase's database with its
// devices stored too, served by a real farm-controller: the fleet page, the matrix
// by device (its first page of rows) and by model, a device's page and /metrics.
void DashboardPhase(const std::string& kind, const std::string& controller_binary, int devices,
                    int64_t measurements, int requests) {
  PhaseDatabase database(kind, "dashboard");
  {
    std::unique_ptr<store::Store> store = database.Open();
    if (store == nullptr) return;
    const farm::v1::KvmCapability capability = HostCapability();
    int index = 0;
    for (farm::v1::Device device : SimulatedDevices(devices)) {
      *device.mutable_capability() = capability;
      farm::v1::Label* label = device.add_labels();
      label->set_key("rack");
      label->set_value(absl::StrCat("r", index++ % 40));
      if (absl::Status put = store->PutDevice(device, std::nullopt); !put.ok()) {
        std::fprintf(stderr, "storing devices: %s\n", put.ToString().c_str());
        return;
      }
    }
    FillMatrixDatabase(*store, devices, measurements, absl::GetFlag(FLAGS_writers));
  }
  testing::ServerProcess controller(
      controller_binary, "farm-controller",
      {"--db", database.db, "--insecure", "--http_listen=127.0.0.1:0"});
  if (controller.WaitUntilListening().empty()) {
    std::fprintf(stderr, "farm-controller did not start:\n%s", controller.Log().c_str());
    return;
  }
  for (const std::string path :
       {"/fleet", "/matrix", "/matrix?group_by=model", "/devices/sim-7", "/sweeps", "/metrics"}) {
    TimeHttpGet(controller, path, requests);
  }
}

// Moving a lab: a SQLite matrix database of `measurements` values copied into a
// PostgreSQL of the benchmark's own, as `farm-controller move` copies it (the
// downtime a lab plans for).
void MovePhase(int devices, int64_t measurements) {
  PhaseDatabase sqlite("sqlite", "move");
  PhaseDatabase postgres("postgres", "move");
  {
    std::unique_ptr<store::Store> source = sqlite.Open();
    if (source == nullptr) return;
    FillMatrixDatabase(*source, devices, measurements, absl::GetFlag(FLAGS_writers));
  }
  absl::StatusOr<store::postgres::PostgresTarget> target =
      store::postgres::ParsePostgresTarget(postgres.db, "");
  if (!target.ok()) return;
  const absl::Time start = absl::Now();
  absl::StatusOr<store::TableCounts> moved =
      store::CopySqliteToPostgres(sqlite.db, *target, nullptr);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!moved.ok()) {
    std::fprintf(stderr, "move: %s\n", moved.status().ToString().c_str());
    return;
  }
  int64_t rows = 0;
  for (const auto& [table, n] : *moved) rows += n;
  std::printf("moving the lab into PostgreSQL: %lld rows (%s) in %.1f s, %.0f rows/s\n",
              static_cast<long long>(rows), store::DescribeCounts(*moved).c_str(), seconds,
              rows / seconds);
}

// Takeover (issue 18): two farm-controller replicas on one PostgreSQL with the
// default 10 s lease; the leader is SIGKILLed and the time until the other has
// taken the lease, reloaded the fleet and resumed (its "leads as epoch" line, after
// which it dispatches on its next 100 ms tick) is measured, `rounds` times, the
// killed one restarted as the follower each time. Expect between the lease less
// one renewal interval and the lease plus one (6.7-13.3 s).
void TakeoverPhase(const std::string& controller_binary, int rounds) {
  PhaseDatabase database("postgres", "takeover");
  if (database.server == nullptr) return;
  auto start = [&](const std::string& name) {
    auto replica = std::make_unique<testing::ServerProcess>(
        controller_binary, "farm-controller",
        std::vector<std::string>{"--db", database.db, "--insecure", "--replica", name});
    return replica->WaitUntilListening().empty() ? nullptr : std::move(replica);
  };
  std::unique_ptr<testing::ServerProcess> leader = start("r0");
  std::unique_ptr<testing::ServerProcess> follower = start("r1");
  if (leader == nullptr || follower == nullptr) return;
  std::vector<double> seconds;
  for (int round = 0; round < rounds; ++round) {
    const std::string elected = absl::StrCat("leads as epoch ", round + 2);
    // Killed at a random point of the leader's renewal cycle (a third of the lease):
    // how long the takeover takes depends on it.
    absl::SleepFor(absl::Milliseconds(std::rand() % 3334));
    const absl::Time killed = absl::Now();
    leader->process().Kill();
    leader->process().Wait();
    while (!absl::StrContains(follower->Log(), elected) &&
           absl::Now() - killed < absl::Seconds(60)) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    seconds.push_back(absl::ToDoubleSeconds(absl::Now() - killed));
    std::fprintf(stderr, "  takeover %d: %.2f s\n", round + 1, seconds.back());
    leader = start(absl::StrCat("r", round + 2));  // the next follower
    std::swap(leader, follower);
    if (leader == nullptr || follower == nullptr) return;
  }
  std::printf(
      "takeover after the leader's SIGKILL (10 s lease, renewed every 3.3 s): median %.2f s, "
      "max %.2f s over %d kills at random points of the renewal cycle\n",
      Percentile(seconds, 50), Percentile(seconds, 100), rounds);
}

}  // namespace
}  // namespace kvmfarm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("farm-controller at fleet scale: heartbeats, dispatch, matrix");
  kvmfarm::ParseCommandLineFlags(argc, argv);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each figure as soon as it is measured
  const std::string controller =
      std::string(argv[0]) + ".runfiles/kvmfarm/controller/farm-controller";
  if (absl::StrContains(absl::GetFlag(FLAGS_phases), "takeover")) {
    kvmfarm::TakeoverPhase(controller, 5);
    return 0;
  }
  if (absl::StrContains(absl::GetFlag(FLAGS_phases), "move")) {
    kvmfarm::MovePhase(absl::GetFlag(FLAGS_devices), absl::GetFlag(FLAGS_measurements));
    return 0;
  }
  const std::vector<std::string> kinds = absl::StrSplit(absl::GetFlag(FLAGS_store), ',');
  for (const std::string& kind : kinds) {
    if (kind != "sqlite" && kind != "postgres") {
      std::fprintf(stderr, "--store: sqlite, postgres or sqlite,postgres\n");
      return 2;
    }
    std::printf("== %s ==\n", kind.c_str());
    const std::string phases = absl::GetFlag(FLAGS_phases);
    if (absl::StrContains(phases, "heartbeat")) {
      kvmfarm::HeartbeatPhase(kind, controller, absl::GetFlag(FLAGS_devices),
                              absl::GetFlag(FLAGS_heartbeat_seconds),
                              absl::GetFlag(FLAGS_replicas));
    }
    if (absl::StrContains(phases, "dispatch")) {
      kvmfarm::DispatchPhase(kind, absl::GetFlag(FLAGS_devices));
    }
    if (absl::StrContains(phases, "dashboard")) {
      kvmfarm::DashboardPhase(kind, controller, absl::GetFlag(FLAGS_devices),
                              absl::GetFlag(FLAGS_measurements), 50);
    }
    if (absl::StrContains(phases, "matrix")) {
      kvmfarm::MatrixPhase(kind, absl::GetFlag(FLAGS_devices), absl::GetFlag(FLAGS_measurements),
                           absl::GetFlag(FLAGS_matrix_queries));
    }
  }
  return 0;
}
