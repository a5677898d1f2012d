// -----------------------------------------------------------------------------
// File: sqlite_store.h
// -----------------------------------------------------------------------------
//
// The Store on one SQLite file: WAL mode with synchronous=FULL (a commit survives a
// power loss), a versioned schema upgraded by ordered migrations, and an
// application id, so that only an empty file or a kvmfarm database is used: any
// other, foreign or corrupt, is refused at start with a clear message before a byte
// of it is written. Protos are kept whole as
// blobs; the columns that queries filter on are kept beside them, indexed.
#ifndef KVMFARM_CONTROLLER_STORE_SQLITE_STORE_H_
#define KVMFARM_CONTROLLER_STORE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "controller/store/sqlite.h"
#include "controller/store/store.h"

namespace kvmfarm::store {

// "kvmf": PRAGMA application_id of every kvmfarm database.
constexpr int64_t kApplicationId = 0x6b766d66;

// Removes the SQLite database at `path` with its -wal, -shm and -journal files
// (none may be open); what is absent is skipped.
void RemoveSqliteDatabase(const std::string& path);

class SqliteStore final : public Store {
 public:
  // Opens or creates `path` and migrates it to the current schema. `path` must be
  // new, empty (zero length, or SQLite with no schema, user_version 0 and
  // application_id 0) or kvmfarm's (our application_id). Errors, each naming the
  // path and why: FAILED_PRECONDITION for a file that is not SQLite, another
  // application's (or tables, or a user_version, without our id), corrupt, from a
  // newer kvmfarm, or read-only (the file, its directory or its mount).
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);

  // The schema version this build writes.
  static int SchemaVersion();

  // PRAGMA synchronous on the store's own connection (0 OFF, 1 NORMAL, 2 FULL,
  // 3 EXTRA): what a committed write survives. The setting is per connection, so
  // only the store can say.
  absl::StatusOr<int64_t> SynchronousLevel();

  absl::Status PutDevice(const farm::v1::Device& device,
                         const std::optional<farm::v1::DeviceEvent>& event) override;
  absl::StatusOr<farm::v1::Device> GetDevice(const std::string& device_id) override;
  absl::StatusOr<std::vector<farm::v1::Device>> ListDevices() override;
  absl::Status AppendDeviceEvent(const std::string& device_id,
                                 const farm::v1::DeviceEvent& event) override;
  absl::StatusOr<std::vector<StoredDeviceEvent>> DeviceHistory(
      const std::string& device_id, int limit, std::optional<int64_t> before) override;
  absl::Status CreateSweep(const farm::v1::Sweep& sweep) override;
  absl::Status PutSweep(const farm::v1::Sweep& sweep) override;
  absl::Status PutTask(const farm::v1::Task& task) override;
  absl::StatusOr<farm::v1::Sweep> GetSweep(const std::string& sweep_id,
                                           bool include_results) override;
  absl::StatusOr<farm::v1::Task> GetTask(const std::string& task_id) override;
  absl::StatusOr<std::vector<farm::v1::Sweep>> ListSweeps(const SweepListQuery& query) override;
  absl::Status RecordAttempt(const farm::v1::Task& task) override;
  absl::Status FinishAttempt(const std::string& attempt_id, const std::string& outcome,
                             const std::string& console_log) override;
  absl::StatusOr<bool> StoreTaskResult(const farm::v1::Task& task,
                                       const std::string& attempt_id) override;
  absl::StatusOr<std::vector<StoredSummary>> LatestSummaries(
      const std::vector<std::string>& device_ids) override;
  absl::StatusOr<std::vector<StoredSummary>> SweepSummaries(const std::string& sweep_id) override;
  absl::StatusOr<std::vector<StoredSummary>> DeviceSummaries(const std::string& device_id,
                                                             int64_t limit) override;
  absl::StatusOr<std::vector<StoredAttempt>> TaskAttempts(const std::string& task_id) override;
  absl::StatusOr<PrunedRawLogs> PruneRawLogs(int64_t stored_before_ns,
                                             int64_t max_results) override;
  absl::StatusOr<Leadership> ClaimLeadership(const std::string& replica, int64_t now_ns,
                                             int64_t ttl_ns) override;
  absl::Status ReleaseLeadership(const std::string& replica) override;
  void SetFencingEpoch(int64_t epoch) override;
  absl::Status ReportReplica(const StoredReplica& replica) override;
  absl::StatusOr<std::pair<Leadership, std::vector<StoredReplica>>> Replicas() override;
  absl::StatusOr<int64_t> ChangeCursor() override;
  absl::StatusOr<ChangeBatch> ChangesSince(int64_t cursor) override;
  absl::Status PruneChanges(int64_t before_s) override;
  absl::Status RecordHeartbeats(const std::string& replica,
                                const std::vector<StoredHeartbeat>& heartbeats) override;
  absl::StatusOr<std::vector<StoredHeartbeat>> HeartbeatsSince(int64_t since_ns) override;
  absl::Status RequestCancel(const CancelRequest& request) override;
  absl::StatusOr<std::vector<CancelRequest>> CancelRequests() override;
  absl::Status ForgetCancelRequest(const std::string& sweep_id) override;
  absl::Status PutBaseline(const farm::v1::Baseline& baseline) override;
  absl::StatusOr<std::vector<farm::v1::Baseline>> ListBaselines() override;
  absl::Status PutRegression(const farm::v1::Regression& regression) override;
  absl::StatusOr<std::vector<farm::v1::Regression>> ListRegressions(
      bool open_only, const std::string& device_id) override;
  absl::Status CreateSchedule(const farm::v1::Schedule& schedule) override;
  absl::StatusOr<std::vector<farm::v1::Schedule>> ListSchedules() override;
  absl::Status DeleteSchedule(const std::string& schedule_id) override;
  absl::StatusOr<bool> AdvanceSchedule(const farm::v1::Schedule& schedule,
                                       int64_t read_next_run_ns) override;
  absl::StatusOr<int64_t> CountMeasurements() override;

 private:
  explicit SqliteStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  absl::Status Migrate();
  absl::Status PutTaskLocked(const farm::v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendDeviceEventLocked(const std::string& device_id,
                                       const farm::v1::DeviceEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutSweepLocked(const farm::v1::Sweep& sweep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<StoredSummary>> ReadSummaries(Statement* query)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // FAILED_PRECONDITION when a newer leader holds the lease (SetFencingEpoch).
  absl::Status CheckFencingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(mu_);
  int64_t fencing_epoch_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_SQLITE_STORE_H_
