// farm-controller: the fleet, its state, sweeps and their results.
//
//   farm-controller --listen 127.0.0.1:7421 --db farm.db [--inventory fleet.textproto]
#include <google/protobuf/text_format.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/flags.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "controller/controller_service.h"
#include "controller/fleet/fleet.h"
#include "controller/matrix/summary_cache.h"
#include "controller/scheduler/agent_client.h"
#include "controller/scheduler/scheduler.h"
#include "controller/store/sqlite_store.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7421",
          "Address to serve gRPC on (host:port; port 0 = any free port). Loopback unless "
          "agents on other machines must reach it.");
ABSL_FLAG(std::string, db, "farm.db",
          "The compatibility database (SQLite file; created if absent, never overwritten "
          "when it isn't kvmfarm's).");
ABSL_FLAG(std::string, inventory, "",
          "A text-format farm.v1.Inventory of devices, agent addresses and operator labels.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(10),
          "How often agents heartbeat; a device is offline after 3 missed intervals.");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file.");
ABSL_FLAG(int32_t, max_parallel, 16, "Devices measured at once, across all sweeps.");

namespace kvmfarm {
namespace {

absl::StatusOr<farm::v1::Inventory> ReadInventory(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--inventory ", path, " cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  farm::v1::Inventory inventory;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &inventory)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--inventory ", path,
        " is not a text-format farm.v1.Inventory (devices { device_id: "
        "\"...\" agent_address: \"host:port\" labels { key: \"rack\" value: \"r1\" } })"));
  }
  return inventory;
}

int Main() {
  BlockShutdownSignals();
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> store =
      store::SqliteStore::Open(FromUserDir(absl::GetFlag(FLAGS_db)));
  if (!store.ok()) {
    std::cerr << "farm-controller: " << store.status().message() << "\n";
    return 2;
  }
  RealClock clock;
  fleet::FleetOptions options;
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  fleet::Fleet fleet(store->get(), &clock, options);
  absl::Status loaded = fleet.Load();
  if (loaded.ok() && !absl::GetFlag(FLAGS_inventory).empty()) {
    absl::StatusOr<farm::v1::Inventory> inventory =
        ReadInventory(FromUserDir(absl::GetFlag(FLAGS_inventory)));
    loaded = inventory.ok() ? fleet.AddInventory(*inventory) : inventory.status();
  }
  if (!loaded.ok()) {
    std::cerr << "farm-controller: " << loaded.message() << "\n";
    return 2;
  }
  scheduler::GrpcAgentClient agents;
  matrix::SummaryCache summaries(store->get());
  scheduler::SchedulerOptions scheduler_options;
  scheduler_options.on_result_stored = [&summaries](const std::string& device_id) {
    summaries.Invalidate(device_id);
  };
  scheduler_options.max_parallel = absl::GetFlag(FLAGS_max_parallel);
  scheduler::Scheduler scheduler(store->get(), &fleet, &agents, &clock, scheduler_options);
  absl::Status resumed = scheduler.Resume();
  if (!resumed.ok()) {
    std::cerr << "farm-controller: resuming sweeps: " << resumed.message() << "\n";
    return 2;
  }
  ControllerServiceImpl service(&fleet, store->get(), &scheduler, &summaries);
  GrpcServerOptions server_options;
  server_options.listen_address = absl::GetFlag(FLAGS_listen);
  server_options.port_file = FromUserDir(absl::GetFlag(FLAGS_port_file));
  server_options.services = {&service};
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(server_options);
  if (!server.ok()) {
    std::cerr << "farm-controller: " << server.status().message() << "\n";
    return 2;
  }
  FARM_LOG(INFO) << "farm-controller serving on " << (*server)->address() << " with "
                 << absl::GetFlag(FLAGS_db) << " (" << fleet.List({}).size() << " devices)";
  absl::Notification stop;
  // Liveness: inventory agents that don't heartbeat are health-pinged (GetStatus);
  // devices heard from by neither go offline after three intervals.
  std::thread liveness([&] {
    while (!stop.WaitForNotificationWithTimeout(options.heartbeat_interval / 2)) {
      for (const farm::v1::Device& device : fleet.ToPing()) {
        if (agents.GetStatus(device.agent_address()).ok()) {
          fleet.Seen(device.device_id()).IgnoreError();
        }
      }
      absl::Status checked = fleet.CheckLiveness();
      if (!checked.ok()) FARM_LOG(ERROR) << "liveness check: " << checked;
    }
  });
  // The scheduling step, on a short timer.
  std::thread dispatcher([&] {
    while (!stop.WaitForNotificationWithTimeout(absl::Milliseconds(100))) scheduler.Dispatch();
  });
  const int signal = WaitForShutdownSignal();
  FARM_LOG(INFO) << "signal " << signal << ": shutting down";
  stop.Notify();
  liveness.join();
  dispatcher.join();
  scheduler.Shutdown();
  (*server)->Shutdown(absl::ZeroDuration());
  return 0;
}

}  // namespace
}  // namespace kvmfarm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the kvmfarm controller: knows every device (inventory and agents that register), "
      "keeps their state and history in the compatibility database, and serves "
      "farm.v1.ControllerService.\n\n"
      "  farm-controller --listen 127.0.0.1:7421 --db farm.db --inventory fleet.textproto");
  kvmfarm::ParseFlagsOnly(argc, argv, "farm-controller");
  return kvmfarm::Main();
}
