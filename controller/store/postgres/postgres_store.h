// -----------------------------------------------------------------------------
// File: postgres/postgres_store.h
// -----------------------------------------------------------------------------
//
// The compatibility database on PostgreSQL (issue 17): the same Store as
// SqliteStore, on one libpq connection (statements are serialized, as SQLite's
// are), except results: StoreTaskResult borrows one of up to kResultWriters
// connections of its own, so results that finish together are stored in parallel
// and their commits share the server's WAL flushes.
//  * The schema is versioned in kvmfarm_schema (kvmfarm's application id and a
//    version) and migrated in one transaction under an advisory lock, so two
//    controllers starting together migrate once. A database with tables but no
//    kvmfarm_schema, another application id, or a newer version is refused and
//    never altered.
//  * synchronous_commit is on: a commit is on the server's disk before any action
//    follows it (the decision "The failure paths" made for SQLite).
//  * Protos are BYTEA, passed as hex text; every value is a statement parameter.
//
// Example:
//
//   ASSIGN_OR_RETURN(PostgresTarget target, ParsePostgresTarget(uri, ca_file));
//   ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(target));
#ifndef KVMFARM_CONTROLLER_STORE_POSTGRES_POSTGRES_STORE_H_
#define KVMFARM_CONTROLLER_STORE_POSTGRES_POSTGRES_STORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/store/postgres/connection.h"
#include "controller/store/store.h"

namespace kvmfarm::store::postgres {

class PostgresStore final : public Store {
 public:
  // Connects and migrates. UNAVAILABLE when the server can't be reached;
  // FAILED_PRECONDITION for a database that isn't kvmfarm's or is newer.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Open(const PostgresTarget& target);

  // The schema version this binary writes.
  static int SchemaVersion();

  // Connections storing results at once, at most.
  static constexpr int kResultWriters = 4;

  // The store's session's synchronous_commit ("on"), for tests.
  absl::StatusOr<std::string> SynchronousCommit();

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
  PostgresStore(std::unique_ptr<PgConnection> db, PostgresTarget target)
      : db_(std::move(db)), target_(std::move(target)), where_(target_.Describe()) {}

  // A result writer's connection: an idle one, a new one while fewer than
  // kResultWriters are open, or the next one given back. Give it back with
  // ReturnWriter, or drop it (a broken connection) with ReturnWriter(nullptr).
  absl::StatusOr<std::unique_ptr<PgConnection>> BorrowWriter();
  void ReturnWriter(std::unique_ptr<PgConnection> writer);

  absl::Status Migrate();
  // Runs `body` in a transaction: committed when it returns OK, rolled back otherwise.
  absl::Status InTransaction(const std::function<absl::Status()>& body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status AppendDeviceEventLocked(const std::string& device_id,
                                       const farm::v1::DeviceEvent& event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutSweepLocked(const farm::v1::Sweep& sweep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutTaskLocked(const farm::v1::Task& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<StoredSummary>> Summaries(
      const std::string& sql, const std::vector<std::optional<std::string>>& params)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // FAILED_PRECONDITION when a newer leader holds the lease (SetFencingEpoch); the
  // lease row stays share-locked to the end of the transaction.
  absl::Status CheckFencingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<PgConnection> db_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> fencing_epoch_{0};
  const PostgresTarget target_;
  const std::string where_;

  absl::Mutex writers_mu_;
  std::vector<std::unique_ptr<PgConnection>> idle_writers_ ABSL_GUARDED_BY(writers_mu_);
  int open_writers_ ABSL_GUARDED_BY(writers_mu_) = 0;
};

}  // namespace kvmfarm::store::postgres

#endif  // KVMFARM_CONTROLLER_STORE_POSTGRES_POSTGRES_STORE_H_
