// -----------------------------------------------------------------------------
// File: replication_sql.h
// -----------------------------------------------------------------------------
//
// What replicas of the controller share besides the lease (issue 18), as SQL both
// backends run as it is: heartbeats (shared liveness), cancels asked of a follower,
// and the retention of the change feed. The feed itself is each backend's own (its
// triggers and cursor differ). Parameters are $1, $2, ... in order of first use.
#ifndef KVMFARM_CONTROLLER_STORE_REPLICATION_SQL_H_
#define KVMFARM_CONTROLLER_STORE_REPLICATION_SQL_H_

namespace kvmfarm::store {

// $1 device, $2 when, $3 the replica that heard it. A time only moves forward.
inline constexpr char kRecordHeartbeat[] = R"sql(
INSERT INTO heartbeats (device_id, seen_ns, replica) VALUES ($1, $2, $3)
ON CONFLICT (device_id) DO UPDATE SET seen_ns = excluded.seen_ns, replica = excluded.replica
WHERE heartbeats.seen_ns < excluded.seen_ns
)sql";

// $1 since (ns).
inline constexpr char kHeartbeatsSince[] =
    "SELECT device_id, seen_ns FROM heartbeats WHERE seen_ns >= $1 ORDER BY device_id";

// $1 sweep, $2 reason, $3 who, $4 when. The first request for a sweep stands.
inline constexpr char kRequestCancel[] =
    "INSERT INTO cancel_requests (sweep_id, reason, requested_by, requested_ns) "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (sweep_id) DO NOTHING";
inline constexpr char kListCancelRequests[] =
    "SELECT sweep_id, reason, requested_by, requested_ns FROM cancel_requests "
    "ORDER BY requested_ns, sweep_id";
inline constexpr char kForgetCancelRequest[] = "DELETE FROM cancel_requests WHERE sweep_id = $1";

// $1 seconds since the epoch.
inline constexpr char kPruneChanges[] = "DELETE FROM changes WHERE at_s < $1";

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_REPLICATION_SQL_H_
