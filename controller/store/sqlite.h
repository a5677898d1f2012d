// -----------------------------------------------------------------------------
// File: sqlite.h
// -----------------------------------------------------------------------------
//
// A thin RAII layer over SQLite's C API: a connection, prepared statements with
// typed binds, and transactions, every error an absl::Status naming the SQL.
//
// Private to the store (visibility //controller/store): everything else reads and
// writes the database through store.h.
//
// Example:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(path));
//   ASSIGN_OR_RETURN(Statement get, db->Prepare("SELECT proto FROM devices WHERE device_id = ?"));
//   get.Bind(1, device_id);
//   ASSIGN_OR_RETURN(const bool found, get.Step());
#ifndef KVMFARM_CONTROLLER_STORE_SQLITE_H_
#define KVMFARM_CONTROLLER_STORE_SQLITE_H_

#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm::store {

class Statement;

class Database {
 public:
  // Opens (creating if absent) the file for reading and writing; nothing is
  // written. FAILED_PRECONDITION when it is not a SQLite database, or when it or
  // its directory is read-only (a read-only mount, no write permission), naming
  // the path.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path);
  ~Database();

  // Runs one or more statements without results.
  absl::Status Execute(absl::string_view sql);
  absl::StatusOr<Statement> Prepare(absl::string_view sql);
  // A single integer (e.g. PRAGMA user_version).
  absl::StatusOr<int64_t> QueryInt(absl::string_view sql);

  // SQLite's online backup: this database, as of one moment, written over
  // `destination` (whose contents it replaces) while other connections may go on
  // writing this one.
  absl::Status BackupInto(Database& destination);

  // PRAGMA quick_check: OK for a whole database; FAILED_PRECONDITION naming the
  // path and SQLite's first complaint otherwise.
  absl::Status QuickCheck();

  // Rows the last INSERT, UPDATE or DELETE changed.
  int64_t Changes() const;

  const std::string& path() const { return path_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

class Statement {
 public:
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, absl::string_view text);
  // Binds a blob (protobuf bytes).
  Statement& BindBlob(int index, absl::string_view bytes);
  Statement& BindDouble(int index, double value);

  // Steps once: true with a row, false when done.
  absl::StatusOr<bool> Step();
  // Steps to completion (INSERT/UPDATE/DELETE).
  absl::Status Run();

  int64_t ColumnInt(int index) const;
  double ColumnDouble(int index) const;
  std::string ColumnText(int index) const;
  std::string ColumnBlob(int index) const;
  bool ColumnIsNull(int index) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  absl::Status bind_error_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  static absl::StatusOr<std::unique_ptr<Transaction>> Begin(Database* db);
  ~Transaction();
  absl::Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;
  bool done_ = false;
};

}  // namespace kvmfarm::store

#endif  // KVMFARM_CONTROLLER_STORE_SQLITE_H_
