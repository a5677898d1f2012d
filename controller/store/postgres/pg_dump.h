// -----------------------------------------------------------------------------
// File: postgres/pg_dump.h
// -----------------------------------------------------------------------------
//
// Backup and restore of a lab on PostgreSQL with PostgreSQL's own tools (Debian's
// postgresql-client): pg_dump's custom format, a consistent snapshot taken while
// farm-controller goes on writing, and pg_restore in one transaction. They run as
// argv (never a shell), with the connection string of the checked --db (TLS
// verify-full off a local socket, no password: libpq reads PGPASSFILE).
//
// Example (from cron: farm-controller backup --db postgresql://... --to farm-DATE.dump):
//
//   RETURN_IF_ERROR(DumpPostgres(target, "/backups/farm-2026-11-30.dump"));
#ifndef KVMFARM_CONTROLLER_STORE_POSTGRES_PG_DUMP_H_
#define KVMFARM_CONTROLLER_STORE_POSTGRES_PG_DUMP_H_

#include <string>

#include "absl/status/status.h"
#include "controller/store/postgres/connection.h"

namespace kvmfarm::store::postgres {

// `target` dumped to the new file `to`: written as TO.partial, listed back with
// pg_restore --list, then renamed. ALREADY_EXISTS when `to` exists; UNAVAILABLE
// with pg_dump's words when it fails (nothing is left at `to`).
absl::Status DumpPostgres(const PostgresTarget& target, const std::string& to);

// The dump `from` restored into `target`, which must hold no tables (a new
// database: createdb), in one transaction: all of it or nothing.
absl::Status RestorePostgres(const std::string& from, const PostgresTarget& target);

// True when `path` starts like a pg_dump custom-format file ("PGDMP").
bool IsPostgresDump(const std::string& path);

}  // namespace kvmfarm::store::postgres

#endif  // KVMFARM_CONTROLLER_STORE_POSTGRES_PG_DUMP_H_
