#include "controller/store/open_store.h"

#include "absl/strings/match.h"
#include "common/status_macros.h"
#include "controller/store/postgres/postgres_store.h"
#include "controller/store/sqlite_store.h"

namespace kvmfarm::store {

bool IsPostgresUri(const std::string& db) {
  return absl::StartsWith(db, "postgresql://") || absl::StartsWith(db, "postgres://");
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const std::string& db,
                                                 const std::string& ca_file) {
  if (!IsPostgresUri(db)) {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> sqlite, SqliteStore::Open(db));
    return std::unique_ptr<Store>(std::move(sqlite));
  }
  ASSIGN_OR_RETURN(const postgres::PostgresTarget target,
                   postgres::ParsePostgresTarget(db, ca_file));
  ASSIGN_OR_RETURN(std::unique_ptr<postgres::PostgresStore> postgres,
                   postgres::PostgresStore::Open(target));
  return std::unique_ptr<Store>(std::move(postgres));
}

}  // namespace kvmfarm::store
