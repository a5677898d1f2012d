// -----------------------------------------------------------------------------
// File: store.h
// -----------------------------------------------------------------------------
//
// The compatibility database behind farm-controller, as an interface: the default
// implementation is a SQLite file (sqlite_store.h); a server database can take its
// place when a lab outgrows one machine. Every write is transactional and is made
// before the controller acts on it, so a restarted controller resumes from here.
// Results are stored once per task: a late result of an abandoned attempt is
// recognised and not stored twice.
#ifndef KVMFARM_CONTROLLER_STORE_STORE_H_
#define KVMFARM_CONTROLLER_STORE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::store {

// One task's summary of one metric: the Measurement as the agent reported it
// (values, median, min, max, parameters), where and when it was measured.
struct StoredSummary {
  std::string device_id;
  std::string sweep_id;
  std::string task_id;
  int64_t measured_ns = 0;
  uint32_t requested_repetitions = 0;
  // The parameters as one canonical string ("k1=v1,k2=v2"), so callers can key on
  // them without rebuilding it.
  std::string parameters_key;
  farm::v1::Measurement measurement;
};

// One event of a device's history with its sequence number (increasing in the order
// events were appended), which orders the history and pages through it.
struct StoredDeviceEvent {
  int64_t sequence = 0;
  farm::v1::DeviceEvent event;
};

// Which sweeps ListSweeps reads: newest first (by creation time, then id), those in
// `states` (all when empty), starting after the sweep `after` (created_ns, sweep_id)
// when set, at most `limit`.
struct SweepListQuery {
  std::vector<farm::v1::SweepState> states;
  std::optional<std::pair<int64_t, std::string>> after;
  int limit = 100;
};

// The summary's parameters as one canonical string: parameters_key as the store
// filled it, or built from the measurement for a summary made by hand.
std::string ParametersKeyOf(const StoredSummary& summary);

// How one attempt ended, with its evidence.
struct StoredAttempt {
  std::string attempt_id;
  int64_t started_ns = 0;
  std::string outcome;
  std::string console_log;
};

// What PruneRawLogs removed.
struct PrunedRawLogs {
  int64_t results = 0;       // results whose raw rows went
  int64_t measurements = 0;  // raw rows (one per repetition) removed
  int64_t console_logs = 0;  // attempts' console logs removed
};

// Who leads the controllers on one database (issue 18): a lease with a fencing
// epoch that grows with every new holder.
struct Leadership {
  std::string holder;
  int64_t epoch = 0;
  int64_t acquired_ns = 0;  // when this holder's term began
  int64_t expires_ns = 0;   // the lease runs out then unless renewed
};

// A controller replica as it last reported itself (ReportReplica).
struct StoredReplica {
  std::string name;
  std::string address;
  int64_t seen_ns = 0;
};

// A write another replica may need to know of (issue 18), as the database noted it
// (by trigger, in the write's own transaction): kind "device" (id: device_id),
// "sweep" (sweep_id), "task" (task_id; parent: its sweep_id) or "summary" (a new
// latest summary; id: device_id).
struct StoredChange {
  std::string kind;
  std::string id;
  std::string parent;
};

// Changes after a cursor, and the cursor to ask from next time.
struct ChangeBatch {
  std::vector<StoredChange> changes;
  int64_t cursor = 0;
};

// A heartbeat as a replica received it: the device, and when.
struct StoredHeartbeat {
  std::string device_id;
  int64_t seen_ns = 0;
};

// An operator's cancel, asked of a replica that doesn't run the sweep: the leader
// acts on it.
struct CancelRequest {
  std::string sweep_id;
  std::string reason;
  std::string requested_by;
  int64_t requested_ns = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Devices: created or replaced whole, with the history event that says why when
  // there is one, in one transaction (both or neither).
  virtual absl::Status PutDevice(const farm::v1::Device& device,
                                 const std::optional<farm::v1::DeviceEvent>& event) = 0;
  virtual absl::StatusOr<farm::v1::Device> GetDevice(const std::string& device_id) = 0;
  virtual absl::StatusOr<std::vector<farm::v1::Device>> ListDevices() = 0;

  // A device's history, newest first: at most `limit` events, those before
  // sequence number `before` when set.
  virtual absl::Status AppendDeviceEvent(const std::string& device_id,
                                         const farm::v1::DeviceEvent& event) = 0;
  virtual absl::StatusOr<std::vector<StoredDeviceEvent>> DeviceHistory(
      const std::string& device_id, int limit, std::optional<int64_t> before) = 0;

  // A new sweep and all its tasks, in one transaction.
  virtual absl::Status CreateSweep(const farm::v1::Sweep& sweep) = 0;
  // The sweep's own fields (its tasks are written with PutTask).
  virtual absl::Status PutSweep(const farm::v1::Sweep& sweep) = 0;
  virtual absl::Status PutTask(const farm::v1::Task& task) = 0;
  // The sweep with its tasks; each task's stored result when `include_results`.
  virtual absl::StatusOr<farm::v1::Sweep> GetSweep(const std::string& sweep_id,
                                                   bool include_results) = 0;
  // One task, with its stored result when it has one.
  virtual absl::StatusOr<farm::v1::Task> GetTask(const std::string& task_id) = 0;
  // Sweeps as `query` asks, without their tasks.
  virtual absl::StatusOr<std::vector<farm::v1::Sweep>> ListSweeps(const SweepListQuery& query) = 0;

  // Attempts: recorded before they are dispatched, closed with how they ended.
  // RecordAttempt records `task`'s attempt_id and writes `task` (as it is while the
  // attempt runs) in one transaction: both or neither.
  virtual absl::Status RecordAttempt(const farm::v1::Task& task) = 0;
  virtual absl::Status FinishAttempt(const std::string& attempt_id, const std::string& outcome,
                                     const std::string& console_log) = 0;

  // Stores `task` (in its final state, carrying its result) and every raw
  // measurement of the result, in one transaction. Returns false, storing nothing,
  // when the task already has a stored result (a late or duplicate attempt).
  virtual absl::StatusOr<bool> StoreTaskResult(const farm::v1::Task& task,
                                               const std::string& attempt_id) = 0;

  // For each device of `device_ids` (all when empty) and each metric, mode and
  // parameter set: the summary of the latest task that measured it.
  virtual absl::StatusOr<std::vector<StoredSummary>> LatestSummaries(
      const std::vector<std::string>& device_ids) = 0;
  // Every summary of one sweep.
  virtual absl::StatusOr<std::vector<StoredSummary>> SweepSummaries(
      const std::string& sweep_id) = 0;
  // The newest `limit` summaries of one device, newest first (the dashboard charts a
  // metric across the sweeps that measured it).
  virtual absl::StatusOr<std::vector<StoredSummary>> DeviceSummaries(const std::string& device_id,
                                                                     int64_t limit) = 0;
  // A task's attempts, oldest first.
  virtual absl::StatusOr<std::vector<StoredAttempt>> TaskAttempts(const std::string& task_id) = 0;

  // Retention: the raw rows (one per repetition) of results stored before
  // `stored_before_ns` (at most `max_results` of them, 0 for all), and the console
  // logs of attempts started before it, are removed, in batches of their own
  // transactions so the controller's writes go on between them. Summaries, results
  // and the attempts themselves stay: the matrix, comparisons and every task's
  // outcome answer as before.
  virtual absl::StatusOr<PrunedRawLogs> PruneRawLogs(int64_t stored_before_ns,
                                                     int64_t max_results) = 0;

  // Leadership among controllers sharing this database, in one atomic step:
  // `replica` takes the lease when it is free or has run out (a new epoch), renews
  // it when it already holds it (the same epoch, even if it ran out meanwhile: no
  // one else led), and otherwise leaves it. Returns the lease as it now stands; the
  // caller leads when `holder` is `replica`. Times are the caller's clock, so the
  // replicas' clocks must agree to well within `ttl_ns`.
  virtual absl::StatusOr<Leadership> ClaimLeadership(const std::string& replica, int64_t now_ns,
                                                     int64_t ttl_ns) = 0;
  // Gives the lease up at once (a clean shutdown), if `replica` holds it.
  virtual absl::Status ReleaseLeadership(const std::string& replica) = 0;
  // Fencing: from now on RecordAttempt and StoreTaskResult write only while the
  // lease's epoch is still `epoch` (checked in the same transaction), and fail with
  // FAILED_PRECONDITION naming the newer epoch otherwise. 0 (the default) checks
  // nothing: a controller alone on its database.
  virtual void SetFencingEpoch(int64_t epoch) = 0;

  // Replicas: each reports itself with every claim; listed by name, with the lease
  // (holder empty when no one has led yet).
  virtual absl::Status ReportReplica(const StoredReplica& replica) = 0;
  virtual absl::StatusOr<std::pair<Leadership, std::vector<StoredReplica>>> Replicas() = 0;

  // Changes, for replicas that keep memory of the database: ChangeCursor is where
  // the feed stands now (take it before loading what it tracks); ChangesSince
  // returns every change written after `cursor` whose transaction has ended, each
  // once, and the next cursor. PruneChanges removes changes noted before
  // `before_s` (seconds since the epoch, the database's clock).
  virtual absl::StatusOr<int64_t> ChangeCursor() = 0;
  virtual absl::StatusOr<ChangeBatch> ChangesSince(int64_t cursor) = 0;
  virtual absl::Status PruneChanges(int64_t before_s) = 0;

  // Shared liveness: the heartbeats `replica` received, in one write (a device's
  // time only moves forward), and every device heard from since `since_ns`.
  virtual absl::Status RecordHeartbeats(const std::string& replica,
                                        const std::vector<StoredHeartbeat>& heartbeats) = 0;
  virtual absl::StatusOr<std::vector<StoredHeartbeat>> HeartbeatsSince(int64_t since_ns) = 0;

  // Cancels asked of a follower, for the leader: kept (the first per sweep) until
  // the leader forgets one it has acted on.
  virtual absl::Status RequestCancel(const CancelRequest& request) = 0;
  virtual absl::StatusOr<std::vector<CancelRequest>> CancelRequests() = 0;
  virtual absl::Status ForgetCancelRequest(const std::string& sweep_id) = 0;

  // Baselines (issue 20): one per scope and key, replaced by a newer one; listed by
  // scope and key.
  virtual absl::Status PutBaseline(const farm::v1::Baseline& baseline) = 0;
  virtual absl::StatusOr<std::vector<farm::v1::Baseline>> ListBaselines() = 0;
  // Regression records, created or updated whole by id; listed newest first (by
  // opened_at), only the open ones when `open_only`, only `device_id`'s when set.
  virtual absl::Status PutRegression(const farm::v1::Regression& regression) = 0;
  virtual absl::StatusOr<std::vector<farm::v1::Regression>> ListRegressions(
      bool open_only, const std::string& device_id) = 0;

  // Schedules (issue 21). CreateSchedule: ALREADY_EXISTS for a taken id.
  // DeleteSchedule: NOT_FOUND for none. AdvanceSchedule writes `schedule` (its new
  // next_run_at, last run) only while the stored one's next run is still
  // `read_next_run_ns`: false when another writer moved it first or it was deleted.
  // Fenced like task writes: only the leader advances schedules.
  virtual absl::Status CreateSchedule(const farm::v1::Schedule& schedule) = 0;
  virtual absl::StatusOr<std::vector<farm::v1::Schedule>> ListSchedules() = 0;
  virtual absl::Status DeleteSchedule(const std::string& schedule_id) = 0;
  virtual absl::StatusOr<bool> AdvanceSchedule(const farm::v1::Schedule& schedule,
                                               int64_t read_next_run_ns) = 0;

  // Raw measurement rows (every repetition), for tests and the scale benchmark.
  virtual absl::StatusOr<int64_t> CountMeasurements() = 0;
};

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_STORE_H_
