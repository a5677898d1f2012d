#include "controller/store/testing/sample_lab.h"

#include <google/protobuf/util/time_util.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvmfarm::store::testing {
namespace {

using google::protobuf::util::TimeUtil;

constexpr const char* kDevices[] = {"pixel-1", "pixel-2", "sdm-1"};

farm::v1::Device Device(int d) {
  farm::v1::Device device;
  device.set_device_id(kDevices[d]);
  device.mutable_identity()->set_model(d < 2 ? "Pixel 8" : "QRD8650");
  device.set_agent_address(absl::StrCat("10.0.0.", d + 1, ":7420"));
  farm::v1::Label* label = device.add_labels();
  label->set_key("rack");
  label->set_value(absl::StrCat("r", d % 2));
  return device;
}

farm::v1::DeviceEvent Event(const std::string& what, int64_t s) {
  farm::v1::DeviceEvent event;
  event.set_description(what);
  *event.mutable_time() = TimeUtil::SecondsToTimestamp(s);
  return event;
}

farm::v1::Task Task(const std::string& sweep, int device, int kind, int64_t finished_s) {
  farm::v1::Task task;
  task.set_sweep_id(sweep);
  task.set_task_id(absl::StrCat(sweep, "/", kDevices[device], "/", kind));
  task.set_device_id(kDevices[device]);
  task.set_state(farm::v1::TASK_STATE_SUCCEEDED);
  *task.mutable_finished_at() = TimeUtil::SecondsToTimestamp(finished_s);
  return task;
}

// Sweep `s` (0, 1, 2): each device's verdict (sdm-1 loses KVM in sweep 2) and
// crypto figures natively and under TCG that drift from sweep to sweep.
absl::Status StoreSweep(Store& store, int s) {
  const std::string id = absl::StrCat("sweep-", s);
  farm::v1::Sweep sweep;
  sweep.set_sweep_id(id);
  sweep.set_state(farm::v1::SWEEP_STATE_SUCCEEDED);
  sweep.set_started_by("operator:alice");
  *sweep.mutable_created_at() = TimeUtil::SecondsToTimestamp(1000 * (s + 1));
  std::vector<farm::v1::Task> tasks;
  for (int d = 0; d < 3; ++d) {
    const int64_t at = 1000 * (s + 1) + 10 * d;
    farm::v1::Task capability = Task(id, d, 0, at);
    capability.mutable_capability()->set_verdict(d == 2 && s == 2 ? farm::v1::VERDICT_KVM_UNUSABLE
                                                                  : farm::v1::VERDICT_KVM_READY);
    tasks.push_back(capability);
    farm::v1::Task bench = Task(id, d, 1, at + 5);
    bench.set_repetitions(3);
    for (farm::v1::Mode mode : {farm::v1::MODE_NATIVE, farm::v1::MODE_TCG}) {
      farm::v1::Measurement* m = bench.mutable_benchmark()->add_measurements();
      m->set_metric("crypto.sha256");
      m->set_unit("MB/s");
      m->set_mode(mode);
      m->set_higher_is_better(true);
      (*m->mutable_parameters())["size_bytes"] = "1048576";
      const double base = (mode == farm::v1::MODE_NATIVE ? 900.0 : 60.0) * (1.0 + 0.1 * d);
      for (int r = 0; r < 3; ++r) m->add_values(base * (1.0 - 0.08 * s) + r + 0.125);
      m->set_median(base * (1.0 - 0.08 * s) + 1.125);
    }
    bench.mutable_benchmark()->set_succeeded(true);
    tasks.push_back(bench);
  }
  farm::v1::Sweep created = sweep;
  for (farm::v1::Task task : tasks) {
    task.clear_capability();
    task.clear_benchmark();
    task.set_state(farm::v1::TASK_STATE_PENDING);
    *created.add_tasks() = task;
  }
  RETURN_IF_ERROR(store.CreateSweep(created));
  for (const farm::v1::Task& task : tasks) {
    farm::v1::Task running = task;
    running.clear_capability();
    running.clear_benchmark();
    running.set_state(farm::v1::TASK_STATE_RUNNING);
    // The first benchmark of sweep 1 needed a second attempt.
    const bool retried = s == 1 && task.task_id() == absl::StrCat(id, "/pixel-1/1");
    if (retried) {
      running.set_attempt_id(task.task_id() + "/a1");
      RETURN_IF_ERROR(store.RecordAttempt(running));
      RETURN_IF_ERROR(store.FinishAttempt(running.attempt_id(), "transport failure",
                                          "qemu: terminating on signal 9"));
    }
    running.set_attempt_id(task.task_id() + (retried ? "/a2" : "/a1"));
    RETURN_IF_ERROR(store.RecordAttempt(running));
    farm::v1::Task done = task;
    done.set_attempt_id(running.attempt_id());
    ASSIGN_OR_RETURN(const bool stored, store.StoreTaskResult(done, running.attempt_id()));
    if (!stored) return absl::InternalError(absl::StrCat(task.task_id(), " was not stored"));
    RETURN_IF_ERROR(store.FinishAttempt(running.attempt_id(), "result stored",
                                        absl::StrCat("FARM_BOOTED ", task.task_id())));
    if (retried) {  // the first attempt's late result: refused
      ASSIGN_OR_RETURN(const bool late, store.StoreTaskResult(done, task.task_id() + "/a1"));
      if (late) return absl::InternalError("a late result was stored");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status FillSampleLab(Store& store) {
  for (int d = 0; d < 3; ++d) {
    RETURN_IF_ERROR(store.PutDevice(Device(d), Event("registered", 500 + d)));
    RETURN_IF_ERROR(store.AppendDeviceEvent(kDevices[d], Event("online", 600 + d)));
  }
  for (int s = 0; s < 3; ++s) RETURN_IF_ERROR(StoreSweep(store, s));
  // Two controllers led in turn: the lease is at epoch 2.
  RETURN_IF_ERROR(store.ClaimLeadership("c1", 100, 10).status());
  RETURN_IF_ERROR(store.ClaimLeadership("c2", 200, 10).status());
  RETURN_IF_ERROR(store.ReportReplica({"c1", "10.0.0.5:7421", 100}));
  RETURN_IF_ERROR(store.ReportReplica({"c2", "10.0.0.6:7421", 200}));
  // The first sweep is the baseline of device 0; the next showed sdm-1's verdict
  // regress.
  farm::v1::Baseline baseline;
  baseline.set_scope(farm::v1::BASELINE_SCOPE_DEVICE);
  baseline.set_key(kDevices[0]);
  baseline.set_sweep_id("sweep-0");
  RETURN_IF_ERROR(store.PutBaseline(baseline));
  farm::v1::Regression regression;
  regression.set_regression_id("verdict-sdm-1-sweep-1");
  regression.set_kind(farm::v1::REGRESSION_KIND_VERDICT);
  regression.set_state(farm::v1::REGRESSION_STATE_OPEN);
  regression.set_device_id("sdm-1");
  regression.set_verdict_before(farm::v1::VERDICT_KVM_READY);
  regression.set_verdict_after(farm::v1::VERDICT_KVM_NOT_IN_KERNEL);
  regression.set_first_sweep_id("sweep-1");
  RETURN_IF_ERROR(store.PutRegression(regression));
  farm::v1::Schedule nightly;
  nightly.set_schedule_id("nightly-capability");
  nightly.mutable_spec()->mutable_plan()->set_capability(true);
  nightly.mutable_spec()->set_health_check(true);
  nightly.set_cron("0 3 * * *");
  nightly.mutable_next_run_at()->set_seconds(5000);
  RETURN_IF_ERROR(store.CreateSchedule(nightly));
  return store.AppendDeviceEvent("sdm-1", Event("KVM lost after the kernel update", 4000));
}

}  // namespace kvmfarm::store::testing
