// -----------------------------------------------------------------------------
// File: open_store.h
// -----------------------------------------------------------------------------
//
// The database farm-controller's --db names: PostgreSQL for a postgresql:// (or
// postgres://) URI, a SQLite file otherwise. One place, so the controller and the
// scale benchmark open stores the same way.
//
// Example:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenStore(flag_db, "lab/ca.crt"));
#ifndef KVMFARM_CONTROLLER_STORE_OPEN_STORE_H_
#define KVMFARM_CONTROLLER_STORE_OPEN_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/store/store.h"

namespace kvmfarm::store {

// True for a postgresql:// or postgres:// URI.
bool IsPostgresUri(const std::string& db);

// Opens (and migrates) the store `db` names. `ca_file` checks a PostgreSQL server
// that is not on a local socket (see postgres/connection.h); "" for libpq's default.
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& db, const std::string& ca_file);

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_OPEN_STORE_H_
