// -----------------------------------------------------------------------------
// File: failing_store.h
// -----------------------------------------------------------------------------
//
// A store whose writes fail on command, for tests of the rule every writer keeps:
// a change that could not be written is not acted on and not announced. It wraps
// a real store (a scratch SQLite store): reads always pass through, and a write
// whose method is named in `Fail` answers RESOURCE_EXHAUSTED "database or disk is
// full" (what SQLite says on a full disk) without reaching the real store, and so
// does a write about a device, sweep, task or attempt whose id is named in FailFor.
//
// Example:
//
//   std::unique_ptr<SqliteStore> real = OpenScratchStore();
//   FailingStore store(real.get());
//   store.Fail({"RecordAttempt", "StoreTaskResult"});
//   ... the code under test sees a full disk ...
//   store.Fail({});  // the disk has room again
#ifndef KVMFARM_CONTROLLER_STORE_TESTING_FAILING_STORE_H_
#define KVMFARM_CONTROLLER_STORE_TESTING_FAILING_STORE_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/store.h"

namespace kvmfarm::store::testing {

class FailingStore final : public Store {
 public:
  explicit FailingStore(Store* real) : real_(real) {}

  // The write methods that fail from now on ("PutTask", "RecordAttempt", ...).
  void Fail(std::set<std::string> methods) {
    absl::MutexLock lock(&mu_);
    failing_ = std::move(methods);
  }
  // Writes about these ids (device_id, sweep_id, task_id, attempt_id) fail from now on.
  void FailFor(std::set<std::string> ids) {
    absl::MutexLock lock(&mu_);
    failing_ids_ = std::move(ids);
  }
  // How many writes failed so far.
  int failed_writes() {
    absl::MutexLock lock(&mu_);
    return failed_writes_;
  }

  absl::Status PutDevice(const farm::v1::Device& device,
                         const std::optional<farm::v1::DeviceEvent>& event) override {
    if (absl::Status full = Refuse("PutDevice", device.device_id()); !full.ok()) return full;
    return real_->PutDevice(device, event);
  }
  absl::Status AppendDeviceEvent(const std::string& device_id,
                                 const farm::v1::DeviceEvent& event) override {
    if (absl::Status full = Refuse("AppendDeviceEvent", device_id); !full.ok()) return full;
    return real_->AppendDeviceEvent(device_id, event);
  }
  absl::Status CreateSweep(const farm::v1::Sweep& sweep) override {
    if (absl::Status full = Refuse("CreateSweep", sweep.sweep_id()); !full.ok()) return full;
    return real_->CreateSweep(sweep);
  }
  absl::Status PutSweep(const farm::v1::Sweep& sweep) override {
    if (absl::Status full = Refuse("PutSweep", sweep.sweep_id()); !full.ok()) return full;
    return real_->PutSweep(sweep);
  }
  absl::Status PutTask(const farm::v1::Task& task) override {
    if (absl::Status full = Refuse("PutTask", task.task_id()); !full.ok()) return full;
    return real_->PutTask(task);
  }
  absl::Status RecordAttempt(const farm::v1::Task& task) override {
    if (absl::Status full = Refuse("RecordAttempt", task.task_id()); !full.ok()) return full;
    return real_->RecordAttempt(task);
  }
  absl::Status FinishAttempt(const std::string& attempt_id, const std::string& outcome,
                             const std::string& console_log) override {
    if (absl::Status full = Refuse("FinishAttempt", attempt_id); !full.ok()) return full;
    return real_->FinishAttempt(attempt_id, outcome, console_log);
  }
  absl::StatusOr<bool> StoreTaskResult(const farm::v1::Task& task,
                                       const std::string& attempt_id) override {
    if (absl::Status full = Refuse("StoreTaskResult", task.task_id()); !full.ok()) return full;
    return real_->StoreTaskResult(task, attempt_id);
  }

  // Reads.
  absl::StatusOr<farm::v1::Device> GetDevice(const std::string& device_id) override {
    return real_->GetDevice(device_id);
  }
  absl::StatusOr<std::vector<farm::v1::Device>> ListDevices() override {
    return real_->ListDevices();
  }
  absl::StatusOr<std::vector<StoredDeviceEvent>> DeviceHistory(
      const std::string& device_id, int limit, std::optional<int64_t> before) override {
    return real_->DeviceHistory(device_id, limit, before);
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
  absl::StatusOr<std::vector<StoredSummary>> LatestSummaries(
      const std::vector<std::string>& device_ids) override {
    return real_->LatestSummaries(device_ids);
  }
  absl::StatusOr<std::vector<StoredSummary>> SweepSummaries(const std::string& sweep_id) override {
    return real_->SweepSummaries(sweep_id);
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
    if (absl::Status full = Refuse("RecordHeartbeats", replica); !full.ok()) return full;
    return real_->RecordHeartbeats(replica, heartbeats);
  }
  absl::StatusOr<std::vector<StoredHeartbeat>> HeartbeatsSince(int64_t since_ns) override {
    return real_->HeartbeatsSince(since_ns);
  }
  absl::Status RequestCancel(const CancelRequest& request) override {
    if (absl::Status full = Refuse("RequestCancel", request.sweep_id); !full.ok()) return full;
    return real_->RequestCancel(request);
  }
  absl::StatusOr<std::vector<CancelRequest>> CancelRequests() override {
    return real_->CancelRequests();
  }
  absl::Status ForgetCancelRequest(const std::string& sweep_id) override {
    return real_->ForgetCancelRequest(sweep_id);
  }
  absl::StatusOr<int64_t> CountMeasurements() override { return real_->CountMeasurements(); }

 private:
  absl::Status Refuse(const std::string& method, const std::string& id) {
    absl::MutexLock lock(&mu_);
    if (!failing_.count(method) && !failing_ids_.count(id)) return absl::OkStatus();
    ++failed_writes_;
    return absl::ResourceExhaustedError(
        absl::StrCat("database or disk is full (", method, ", injected by FailingStore)"));
  }

  Store* const real_;
  absl::Mutex mu_;
  std::set<std::string> failing_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> failing_ids_ ABSL_GUARDED_BY(mu_);
  int failed_writes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmfarm::store::testing

#endif  // KVMFARM_CONTROLLER_STORE_TESTING_FAILING_STORE_H_
