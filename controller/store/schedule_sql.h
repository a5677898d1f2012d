// -----------------------------------------------------------------------------
// File: schedule_sql.h
// -----------------------------------------------------------------------------
//
// Recurring sweeps and health checks (issue 21), as SQL both backends run as it
// is. Each row is its proto, with the schedule's next run beside it so that the
// leader advances a schedule only from the run it read (compare and set): a run
// is started once, even across a failover. Parameters are $1, $2, ... in order.
#ifndef KVMFARM_CONTROLLER_STORE_SCHEDULE_SQL_H_
#define KVMFARM_CONTROLLER_STORE_SCHEDULE_SQL_H_

namespace kvmfarm::store {

// $1 id, $2 next run (ns), $3 proto. ALREADY_EXISTS is the caller's to say.
inline constexpr char kCreateSchedule[] = R"sql(
INSERT INTO schedules (schedule_id, next_run_ns, proto) VALUES ($1, $2, $3)
ON CONFLICT (schedule_id) DO NOTHING RETURNING schedule_id
)sql";

inline constexpr char kListSchedules[] = "SELECT proto FROM schedules ORDER BY schedule_id";

// $1 id.
inline constexpr char kDeleteSchedule[] =
    "DELETE FROM schedules WHERE schedule_id = $1 RETURNING schedule_id";

// $1 the new next run, $2 proto, $3 id, $4 the next run it was read with.
inline constexpr char kAdvanceSchedule[] = R"sql(
UPDATE schedules SET next_run_ns = $1, proto = $2 WHERE schedule_id = $3 AND next_run_ns = $4
RETURNING schedule_id
)sql";

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_SCHEDULE_SQL_H_
