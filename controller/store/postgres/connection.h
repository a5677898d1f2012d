// -----------------------------------------------------------------------------
// File: postgres/connection.h
// -----------------------------------------------------------------------------
//
// The controller's connection to PostgreSQL (issue 17), on libpq:
//  * `--db postgresql://...` is parsed by libpq itself (PQconninfoParse), then
//    checked: a password in it is refused (`ps` shows a command line; libpq reads it
//    from PGPASSFILE or ~/.pgpass instead), and a server that is not on a local Unix
//    socket is reached with sslmode=verify-full against the lab's CA only.
//  * Statements take text parameters ($1, $2, ...): no value is ever spliced into
//    SQL. A failed statement comes back as an absl::Status from its SQLSTATE.
//
// Example:
//
//   ASSIGN_OR_RETURN(PostgresTarget target,
//                    ParsePostgresTarget("postgresql://farm@db1.lab/farm", "lab/ca.crt"));
//   ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Open(target));
//   ASSIGN_OR_RETURN(PgRows rows, db->Exec("SELECT proto FROM devices WHERE device_id = $1",
//                                          {device_id}));
#ifndef KVMFARM_CONTROLLER_STORE_POSTGRES_CONNECTION_H_
#define KVMFARM_CONTROLLER_STORE_POSTGRES_CONNECTION_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

typedef struct pg_conn PGconn;

namespace kvmfarm::store::postgres {

// libpq's connection keywords and values, checked.
struct PostgresTarget {
  std::map<std::string, std::string> options;
  // On a Unix socket (host empty or a directory): no TLS needed.
  bool local_socket = false;

  // "host:port/dbname" or "socket DIR/dbname", for messages (never a secret).
  std::string Describe() const;
  // The options as a libpq connection string ("host='...' dbname='...'"), for
  // pg_dump and pg_restore's --dbname. Holds no password (ParsePostgresTarget
  // refuses one).
  std::string ConnectionString() const;
};

// Values as text parameters that PostgreSQL reads back exactly: bytes as BYTEA
// (hex input), a double with all 17 significant digits.
std::string ByteaParam(absl::string_view bytes);
std::string DoubleParam(double value);
// An array parameter ({"a","b"}): each element quoted, so any text (a comma, a
// quote, a brace) stays one element; numbers parse from it too ($1::integer[]).
std::string ArrayParam(const std::vector<std::string>& elements);

// `uri` (postgresql:// or postgres://) checked and completed: INVALID_ARGUMENT
// naming the problem for a malformed URI, a password in it, or a TCP server without
// sslmode=verify-full. For a TCP server, sslmode=verify-full and sslrootcert=`ca_file`
// are set unless the URI sets them (`ca_file` empty: libpq's default,
// ~/.postgresql/root.crt).
absl::StatusOr<PostgresTarget> ParsePostgresTarget(absl::string_view uri,
                                                   const std::string& ca_file);

// Rows of text values (NULL as nullopt), row-major.
struct PgRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

class PgConnection {
 public:
  // Connects; UNAVAILABLE with libpq's reason (the server's address, never the
  // password) when it can't.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Open(const PostgresTarget& target);

  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with text parameters. Errors by SQLSTATE class:
  // 23 (a constraint) ALREADY_EXISTS for unique violations, FAILED_PRECONDITION
  // otherwise; 42 (syntax, undefined table) INVALID_ARGUMENT; 08 (connection)
  // UNAVAILABLE; 53 (disk full, out of memory) RESOURCE_EXHAUSTED; anything else
  // INTERNAL. The message carries the SQLSTATE and the server's words.
  absl::StatusOr<PgRows> Exec(const std::string& sql,
                              const std::vector<std::optional<std::string>>& params = {});

  // Exec of a statement the connection prepares (parses and plans) once, on its
  // first use, under `name`: for statements run on every result.
  absl::StatusOr<PgRows> ExecPrepared(const std::string& name, const std::string& sql,
                                      const std::vector<std::optional<std::string>>& params);

  // Several statements without parameters (a migration), as one string.
  absl::Status ExecScript(const std::string& sql);

 private:
  explicit PgConnection(PGconn* connection) : connection_(connection) {}
  absl::StatusOr<PgRows> Exec(const std::string& sql,
                              const std::vector<std::optional<std::string>>& params,
                              const std::string& prepared_name);

  PGconn* connection_;
  std::set<std::string> prepared_;
};

}  // namespace kvmfarm::store::postgres

#endif  // KVMFARM_CONTROLLER_STORE_POSTGRES_CONNECTION_H_
