// -----------------------------------------------------------------------------
// File: regression_sql.h
// -----------------------------------------------------------------------------
//
// Baselines and regression records (issue 20), as SQL both backends run as it is.
// Each row is its proto, with the columns it is looked up by beside it.
// Parameters are $1, $2, ... in order of first use.
#ifndef KVMFARM_CONTROLLER_STORE_REGRESSION_SQL_H_
#define KVMFARM_CONTROLLER_STORE_REGRESSION_SQL_H_

namespace kvmfarm::store {

// $1 scope, $2 key, $3 sweep, $4 proto. One baseline per scope and key.
inline constexpr char kPutBaseline[] = R"sql(
INSERT INTO baselines (scope, key, sweep_id, proto) VALUES ($1, $2, $3, $4)
ON CONFLICT (scope, key) DO UPDATE SET sweep_id = excluded.sweep_id, proto = excluded.proto
)sql";

inline constexpr char kListBaselines[] = "SELECT proto FROM baselines ORDER BY scope, key";

// $1 id, $2 device, $3 state, $4 opened (ns), $5 proto.
inline constexpr char kPutRegression[] = R"sql(
INSERT INTO regressions (regression_id, device_id, state, opened_ns, proto)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (regression_id) DO UPDATE SET state = excluded.state, proto = excluded.proto
)sql";

// $1 1 for open ones only (0 for all), $2 the device ('' for all). Newest first.
inline constexpr char kListRegressions[] = R"sql(
SELECT proto FROM regressions
WHERE ($1 = 0 OR state = 1) AND ($2 = '' OR device_id = $2)
ORDER BY opened_ns DESC, regression_id DESC
)sql";

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_REGRESSION_SQL_H_
