// -----------------------------------------------------------------------------
// File: wrapped_store.h
// -----------------------------------------------------------------------------
//
// A Store that passes every call to another, with a hook around each write: before
// it (which may refuse it, naming why) and after it (with how long it took). Reads
// pass straight through. What wraps a store subclasses it and overrides a hook:
// the write-latency histogram of /metrics (controller/http/lab_counters.h via
// TimedStore) and the full disk of tests (testing/failing_store.h).
//
// Each write is named by its method ("StoreTaskResult") and the id it is about
// (a device, sweep, task or attempt id; the replica for heartbeats).
#ifndef KVMFARM_CONTROLLER_STORE_WRAPPED_STORE_H_
#define KVMFARM_CONTROLLER_STORE_WRAPPED_STORE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "controller/store/store.h"

namespace kvmfarm::store {

class WrappedStore : public Store {
 public:
  explicit WrappedStore(Store* real) : real_(real) {}

  absl::Status PutDevice(const farm::v1::Device& device,
                         const std::optional<farm::v1::DeviceEvent>& event) override {
    return Write("PutDevice", device.device_id(), [&] { return real_->PutDevice(device, event); });
  }
  absl::StatusOr<farm::v1::Device> GetDevice(const std::string& device_id) override {
    return real_->GetDevice(device_id);
  }
  absl::StatusOr<std::vector<farm::v1::Device>> ListDevices() override {
    return real_->ListDevices();
  }
  absl::Status AppendDeviceEvent(const std::string& device_id,
                                 const farm::v1::DeviceEvent& event) override {
    return Write("AppendDeviceEvent", device_id,
                 [&] { return real_->AppendDeviceEvent(device_id, event); });
  }
  absl::StatusOr<std::vector<StoredDeviceEvent>> DeviceHistory(
      const std::string& device_id, int limit, std::optional<int64_t> before) override {
    return real_->DeviceHistory(device_id, limit, before);
  }
  absl::Status CreateSweep(const farm::v1::Sweep& sweep) override {
    return Write("CreateSweep", sweep.sweep_id(), [&] { return real_->CreateSweep(sweep); });
  }
  absl::Status PutSweep(const farm::v1::Sweep& sweep) override {
    return Write("PutSweep", sweep.sweep_id(), [&] { return real_->PutSweep(sweep); });
  }
  absl::Status PutTask(const farm::v1::Task& task) override {
    return Write("PutTask", task.task_id(), [&] { return real_->PutTask(task); });
  }
  absl::StatusOr<farm::v1::Sweep> GetSweep(const std::string& sweep_id,
                                           bool include_results) override {
    return real_->GetSweep(sweep_id, include_results);
  }
  absl::StatusOr<farm::v1::Task> GetTask(const std::string& task_id) override {
    return real_->GetTask(task_id);
  }
  absl::StatusOr<std::vector<farm::v1::Sweep>> ListSweeps(const SweepListQuery& query) override {
    return real_->ListSweeps(query);
  }
  absl::Status RecordAttempt(const farm::v1::Task& task) override {
    return Write("RecordAttempt", task.task_id(), [&] { return real_->RecordAttempt(task); });
  }
  absl::Status FinishAttempt(const std::string& attempt_id, const std::string& outcome,
                             const std::string& console_log) override {
    return Write("FinishAttempt", attempt_id,
                 [&] { return real_->FinishAttempt(attempt_id, outcome, console_log); });
  }
  absl::StatusOr<bool> StoreTaskResult(const farm::v1::Task& task,
                                       const std::string& attempt_id) override {
    return Write("StoreTaskResult", task.task_id(),
                 [&] { return real_->StoreTaskResult(task, attempt_id); });
  }
  absl::StatusOr<std::vector<StoredSummary>> LatestSummaries(
      const std::vector<std::string>& device_ids) override {
    return real_->LatestSummaries(device_ids);
  }
  absl::StatusOr<std::vector<StoredSummary>> SweepSummaries(const std::string& sweep_id) override {
    return real_->SweepSummaries(sweep_id);
  }
  absl::StatusOr<std::vector<StoredSummary>> DeviceSummaries(const std::string& device_id,
                                                             int64_t limit) override {
    return real_->DeviceSummaries(device_id, limit);
  }
  absl::StatusOr<std::vector<StoredAttempt>> TaskAttempts(const std::string& task_id) override {
    return real_->TaskAttempts(task_id);
  }
  absl::StatusOr<PrunedRawLogs> PruneRawLogs(int64_t stored_before_ns,
                                             int64_t max_results) override {
    return real_->PruneRawLogs(stored_before_ns, max_results);
  }
  absl::StatusOr<Leadership> ClaimLeadership(const std::string& replica, int64_t now_ns,
                                             int64_t ttl_ns) override {
    return real_->ClaimLeadership(replica, now_ns, ttl_ns);
  }
  absl::Status ReleaseLeadership(const std::string& replica) override {
    return real_->ReleaseLeadership(replica);
  }
  void SetFencingEpoch(int64_t epoch) override { real_->SetFencingEpoch(epoch); }
  absl::Status ReportReplica(const StoredReplica& replica) override {
    return real_->ReportReplica(replica);
  }
  absl::StatusOr<std::pair<Leadership, std::vector<StoredReplica>>> Replicas() override {
    return real_->Replicas();
  }
  absl::StatusOr<int64_t> ChangeCursor() override { return real_->ChangeCursor(); }
  absl::StatusOr<ChangeBatch> ChangesSince(int64_t cursor) override {
    return real_->ChangesSince(cursor);
  }
  absl::Status PruneChanges(int64_t before_s) override { return real_->PruneChanges(before_s); }
  absl::Status RecordHeartbeats(const std::string& replica,
                                const std::vector<StoredHeartbeat>& heartbeats) override {
    return Write("RecordHeartbeats", replica,
                 [&] { return real_->RecordHeartbeats(replica, heartbeats); });
  }
  absl::StatusOr<std::vector<StoredHeartbeat>> HeartbeatsSince(int64_t since_ns) override {
    return real_->HeartbeatsSince(since_ns);
  }
  absl::Status RequestCancel(const CancelRequest& request) override {
    return Write("RequestCancel", request.sweep_id, [&] { return real_->RequestCancel(request); });
  }
  absl::StatusOr<std::vector<CancelRequest>> CancelRequests() override {
    return real_->CancelRequests();
  }
  absl::Status ForgetCancelRequest(const std::string& sweep_id) override {
    return real_->ForgetCancelRequest(sweep_id);
  }
  absl::Status PutBaseline(const farm::v1::Baseline& baseline) override {
    return Write("PutBaseline", baseline.key(), [&] { return real_->PutBaseline(baseline); });
  }
  absl::StatusOr<std::vector<farm::v1::Baseline>> ListBaselines() override {
    return real_->ListBaselines();
  }
  absl::Status PutRegression(const farm::v1::Regression& regression) override {
    return Write("PutRegression", regression.regression_id(),
                 [&] { return real_->PutRegression(regression); });
  }
  absl::StatusOr<std::vector<farm::v1::Regression>> ListRegressions(
      bool open_only, const std::string& device_id) override {
    return real_->ListRegressions(open_only, device_id);
  }
  absl::Status CreateSchedule(const farm::v1::Schedule& schedule) override {
    return Write("CreateSchedule", schedule.schedule_id(),
                 [&] { return real_->CreateSchedule(schedule); });
  }
  absl::StatusOr<std::vector<farm::v1::Schedule>> ListSchedules() override {
    return real_->ListSchedules();
  }
  absl::Status DeleteSchedule(const std::string& schedule_id) override {
    return Write("DeleteSchedule", schedule_id, [&] { return real_->DeleteSchedule(schedule_id); });
  }
  absl::StatusOr<bool> AdvanceSchedule(const farm::v1::Schedule& schedule,
                                       int64_t read_next_run_ns) override {
    return Write("AdvanceSchedule", schedule.schedule_id(),
                 [&] { return real_->AdvanceSchedule(schedule, read_next_run_ns); });
  }
  absl::StatusOr<int64_t> CountMeasurements() override { return real_->CountMeasurements(); }

 protected:
  // Before write `method` about `id`: an error refuses it (the real store never
  // sees it). After it: how long the real store took.
  virtual absl::Status BeforeWrite(const std::string& /*method*/, const std::string& /*id*/) {
    return absl::OkStatus();
  }
  virtual void AfterWrite(const std::string& /*method*/, absl::Duration /*took*/) {}

 private:
  template <typename Call>
  auto Write(const std::string& method, const std::string& id, Call call) -> decltype(call()) {
    if (absl::Status refused = BeforeWrite(method, id); !refused.ok()) return refused;
    const absl::Time start = absl::Now();
    auto result = call();
    AfterWrite(method, absl::Now() - start);
    return result;
  }

  Store* const real_;
};

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_WRAPPED_STORE_H_
