// -----------------------------------------------------------------------------
// File: sqlite_backup.h
// -----------------------------------------------------------------------------
//
// Backup and restore of a lab on SQLite, with SQLite's online backup API: a backup
// is a consistent copy taken while farm-controller goes on writing, and is itself a
// kvmfarm database (a restore is the same copy the other way). A copy is written
// as DEST.partial, checked (PRAGMA quick_check, kvmfarm's application_id) and only
// then renamed to DEST, so a crash or a full disk never leaves a half copy under
// the name. Nothing existing is overwritten.
//
// Example (from cron: farm-controller backup --db farm.db --to /backups/farm-DATE.db):
//
//   RETURN_IF_ERROR(CopySqliteDatabase("farm.db", "/backups/farm-2026-11-30.db"));
#ifndef KVMFARM_CONTROLLER_STORE_SQLITE_BACKUP_H_
#define KVMFARM_CONTROLLER_STORE_SQLITE_BACKUP_H_

#include <string>

#include "absl/status/status.h"

namespace kvmfarm::store {

// `from` (a kvmfarm SQLite database) copied to the new file `to`. ALREADY_EXISTS
// when `to` exists; FAILED_PRECONDITION when `from` is missing or not kvmfarm's, or
// the copy fails its check (then nothing is left at `to`).
absl::Status CopySqliteDatabase(const std::string& from, const std::string& to);

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_SQLITE_BACKUP_H_
