#include "controller/store/sqlite.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace kvmfarm::store {
namespace {

// On a full disk the write-ahead log may hold all the space that was left, and
// SQLite only folds it back into the database at 1000 pages (4 MB): without this,
// every later write fails even once room has been made elsewhere. TRUNCATE copies
// the log into the database file and empties it; while the disk is still full it
// fails harmlessly and is tried again after the next failed write.
void ReclaimLog(sqlite3* db) {
  sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
}

// Whether access(2)'s errno says "not writable" (a read-only mount, a file or
// directory without write permission) rather than something else (no such
// directory), which SQLite's own open then reports.
bool IsReadOnlyErrno(int error) { return error == EROFS || error == EACCES || error == EPERM; }

// Why `path` can't be opened for writing: the file is read-only, or its directory
// is (SQLite creates the -wal and -shm files, or the file itself, there). OK when
// neither.
absl::Status CheckWritable(const std::string& path) {
  struct stat file;
  const bool exists = ::stat(path.c_str(), &file) == 0;
  if (exists && ::access(path.c_str(), W_OK) != 0 && IsReadOnlyErrno(errno)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is read-only (", std::strerror(errno),
                     "): the controller writes every change to its database; give --db a "
                     "writable file"));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (::access(dir.c_str(), W_OK) != 0 && IsReadOnlyErrno(errno)) {
    return absl::FailedPreconditionError(absl::StrCat(
        exists ? absl::StrCat(path, " can't be written: its directory ")
               : absl::StrCat("cannot create ", path, ": its directory "),
        dir, " is read-only (", std::strerror(errno),
        "), and SQLite writes the database's -wal and -shm files beside it; give --db a "
        "file in a writable directory"));
  }
  return absl::OkStatus();
}

absl::Status SqliteError(sqlite3* db, absl::string_view what) {
  const int code = sqlite3_extended_errcode(db);
  const std::string message = absl::StrCat(what, ": ", sqlite3_errmsg(db));
  // Outside a transaction (inside one, ~Transaction does it after rolling back).
  if ((code & 0xff) == SQLITE_FULL && sqlite3_get_autocommit(db)) ReclaimLog(db);
  switch (code & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::FailedPreconditionError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  // Before SQLite opens it: on a read-only file SQLite would quietly open it
  // read-only, and on a read-only directory fail later with a misleading message
  // ("unable to open database file", or a WAL database's schema unreadable).
  RETURN_IF_ERROR(CheckWritable(path));
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status status = absl::FailedPreconditionError(
        absl::StrCat("cannot open database ", path, ": ",
                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Database> database(new Database(db, path));
  if (sqlite3_db_readonly(db, "main") == 1) {  // what CheckWritable couldn't see
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     " can only be opened read-only; the controller writes every change "
                     "to its database: give --db a writable file"));
  }
  // Reading the schema is the first thing that touches the file's contents: a file
  // that isn't SQLite fails here, before anything is written.
  absl::StatusOr<int64_t> tables = database->QueryInt("SELECT count(*) FROM sqlite_master");
  if (!tables.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a SQLite database (", tables.status().message(), "); refusing to touch it"));
  }
  return database;
}

Database::~Database() { sqlite3_close_v2(db_); }

absl::Status Database::BackupInto(Database& destination) {
  sqlite3_backup* backup = sqlite3_backup_init(destination.db_, "main", db_, "main");
  if (backup == nullptr) {
    return absl::InternalError(absl::StrCat("backing up ", path_, " into ", destination.path_, ": ",
                                            sqlite3_errmsg(destination.db_)));
  }
  // Every page in one step: the copy is of one snapshot (a write by another
  // connection during a stepwise copy would restart it).
  int rc = sqlite3_backup_step(backup, -1);
  for (int tries = 0; (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && tries < 100; ++tries) {
    sqlite3_sleep(50);
    rc = sqlite3_backup_step(backup, -1);
  }
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return absl::UnavailableError(
        absl::StrCat("backing up ", path_, " into ", destination.path_, ": ", sqlite3_errstr(rc)));
  }
  return absl::OkStatus();
}

absl::Status Database::QuickCheck() {
  ASSIGN_OR_RETURN(Statement check, Prepare("PRAGMA quick_check"));
  absl::StatusOr<bool> row = check.Step();
  if (row.ok() && *row && check.ColumnText(0) == "ok") return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(path_, " is corrupt (PRAGMA quick_check: ",
                                                    !row.ok() ? std::string(row.status().message())
                                                    : *row    ? check.ColumnText(0)
                                                              : "no answer",
                                                    ")"));
}

int64_t Database::Changes() const { return sqlite3_changes(db_); }

absl::Status Database::Execute(absl::string_view sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status = SqliteError(db_, absl::StrCat("SQL '", sql.substr(0, 80), "'"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<Statement> Database::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return SqliteError(db_, absl::StrCat("prepare '", sql.substr(0, 80), "'"));
  }
  return Statement(db_, stmt);
}

absl::StatusOr<int64_t> Database::QueryInt(absl::string_view sql) {
  ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no row for '", sql, "'"));
  return stmt.ColumnInt(0);
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK && bind_error_.ok()) {
    bind_error_ = SqliteError(db_, "bind");
  }
  return *this;
}

Statement& Statement::Bind(int index, absl::string_view text) {
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK &&
      bind_error_.ok()) {
    bind_error_ = SqliteError(db_, "bind");
  }
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view bytes) {
  if (sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK &&
      bind_error_.ok()) {
    bind_error_ = SqliteError(db_, "bind");
  }
  return *this;
}

Statement& Statement::BindDouble(int index, double value) {
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK && bind_error_.ok()) {
    bind_error_ = SqliteError(db_, "bind");
  }
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (!bind_error_.ok()) return bind_error_;
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_,
                     absl::StrCat("step '", std::string(sqlite3_sql(stmt_)).substr(0, 80), "'"));
}

absl::Status Statement::Run() {
  while (true) {
    ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) return absl::OkStatus();
  }
}

double Statement::ColumnDouble(int index) const { return sqlite3_column_double(stmt_, index); }

int64_t Statement::ColumnInt(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Statement::ColumnText(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  return text == nullptr ? ""
                         : std::string(reinterpret_cast<const char*>(text),
                                       static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

std::string Statement::ColumnBlob(int index) const {
  const void* blob = sqlite3_column_blob(stmt_, index);
  return blob == nullptr ? ""
                         : std::string(static_cast<const char*>(blob),
                                       static_cast<size_t>(sqlite3_column_bytes(stmt_, index)));
}

bool Statement::ColumnIsNull(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

absl::StatusOr<std::unique_ptr<Transaction>> Transaction::Begin(Database* db) {
  RETURN_IF_ERROR(db->Execute("BEGIN IMMEDIATE"));
  return std::unique_ptr<Transaction>(new Transaction(db));
}

Transaction::~Transaction() {
  if (done_) return;
  db_->Execute("ROLLBACK").IgnoreError();
  // A transaction fails for a full disk more than for anything else.
  db_->Execute("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
}

absl::Status Transaction::Commit() {
  absl::Status status = db_->Execute("COMMIT");
  if (status.ok()) done_ = true;
  return status;
}

}  // namespace kvmfarm::store
