// -----------------------------------------------------------------------------
// File: leadership_sql.h
// -----------------------------------------------------------------------------
//
// The controllers' leadership lease (issue 18) as SQL both backends run as it is:
// one `leadership` row holding the lease, its holder and a fencing epoch that
// grows with every new holder. Parameters are $1, $2, $3 in order of first use, so
// SQLite binds them by position as PostgreSQL does.
#ifndef KVMFARM_CONTROLLER_STORE_LEADERSHIP_SQL_H_
#define KVMFARM_CONTROLLER_STORE_LEADERSHIP_SQL_H_

#include <cstdint>

#include "absl/status/status.h"

namespace kvmfarm::store {

// $1 the replica, $2 now, $3 when its lease would run out. The lease is taken when
// free or run out (epoch + 1), renewed by its holder (same epoch), else untouched.
inline constexpr char kClaimLeadership[] = R"sql(
INSERT INTO leadership (id, holder, epoch, acquired_ns, expires_ns) VALUES (1, $1, 1, $2, $3)
ON CONFLICT (id) DO UPDATE SET
  epoch = CASE WHEN leadership.holder = excluded.holder THEN leadership.epoch
               ELSE leadership.epoch + 1 END,
  acquired_ns = CASE WHEN leadership.holder = excluded.holder THEN leadership.acquired_ns
                     ELSE excluded.acquired_ns END,
  holder = excluded.holder,
  expires_ns = excluded.expires_ns
WHERE leadership.holder = excluded.holder OR leadership.expires_ns <= excluded.acquired_ns
)sql";

inline constexpr char kReadLeadership[] =
    "SELECT holder, epoch, acquired_ns, expires_ns FROM leadership WHERE id = 1";

// $1 the replica: its lease runs out now, so another takes over at once.
inline constexpr char kReleaseLeadership[] =
    "UPDATE leadership SET expires_ns = 0 WHERE id = 1 AND holder = $1";

inline constexpr char kLeaseEpoch[] = "SELECT epoch FROM leadership WHERE id = 1";

// $1 name, $2 address, $3 now.
inline constexpr char kReportReplica[] =
    "INSERT INTO replicas (name, address, seen_ns) VALUES ($1, $2, $3) ON CONFLICT (name) DO "
    "UPDATE SET address = excluded.address, seen_ns = excluded.seen_ns";
inline constexpr char kListReplicas[] = "SELECT name, address, seen_ns FROM replicas ORDER BY name";

// OK while `current` (the lease's epoch now) is `mine`; FAILED_PRECONDITION
// otherwise: a newer leader took over, and nothing is written under an old epoch.
absl::Status FencingStatus(int64_t mine, int64_t current);

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_LEADERSHIP_SQL_H_
