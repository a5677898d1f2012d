// -----------------------------------------------------------------------------
// File: in_process_controller.h
// -----------------------------------------------------------------------------
//
// What farm-controller serves from, in the test's process: a scratch SQLite store,
// the fleet, the summary cache and a scheduler over fake agents whose attempts run
// when the test says so (RunQueued), on the test's thread, with a fake clock. The
// gRPC service's and the dashboard's tests stand on it.
//
// Example:
//
//   InProcessController controller;
//   ControllerApi api(controller.fleet.get(), controller.store.get(),
//                     controller.scheduler.get(), controller.summaries.get());
#ifndef KVMFARM_CONTROLLER_TESTING_IN_PROCESS_CONTROLLER_H_
#define KVMFARM_CONTROLLER_TESTING_IN_PROCESS_CONTROLLER_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "common/testing/fake_clock.h"
#include "controller/fleet/fleet.h"
#include "controller/scheduler/scheduler.h"
#include "controller/scheduler/testing/fake_agent_client.h"
#include "controller/store/sqlite_store.h"
#include "controller/store/summary_cache.h"
#include "controller/store/testing/scratch_store.h"

namespace kvmfarm::testing {

struct InProcessController {
  InProcessController() {
    store = store::testing::OpenScratchStore();
    fleet = std::make_unique<fleet::Fleet>(store.get(), &clock, fleet::FleetOptions());
    summaries = std::make_unique<store::SummaryCache>(store.get());
    scheduler::SchedulerOptions options;
    options.on_result_stored = [this](const std::string& id) { summaries->Invalidate(id); };
    scheduler = std::make_unique<scheduler::Scheduler>(
        store.get(), fleet.get(), &agents, &clock, options,
        [this](std::function<void()> work) { queued.push_back(std::move(work)); });
  }

  // Runs the attempts dispatched so far.
  void RunQueued() {
    std::vector<std::function<void()>> work;
    work.swap(queued);
    for (auto& w : work) w();
  }

  FakeClock clock;
  scheduler::FakeAgentClient agents;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<fleet::Fleet> fleet;
  std::unique_ptr<store::SummaryCache> summaries;
  std::vector<std::function<void()>> queued;
  std::unique_ptr<scheduler::Scheduler> scheduler;
};

}  // namespace kvmfarm::testing

#endif  // KVMFARM_CONTROLLER_TESTING_IN_PROCESS_CONTROLLER_H_
