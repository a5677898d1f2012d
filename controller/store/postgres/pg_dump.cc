#include "controller/store/postgres/pg_dump.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/subprocess.h"

namespace kvmfarm::store::postgres {
namespace {

// Runs a PostgreSQL client tool; UNAVAILABLE with the tail of its stderr when it
// fails. -w: never prompt for a password (there is no terminal to answer it).
absl::Status RunTool(std::vector<std::string> argv, const std::string& what) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.argv.insert(spec.argv.begin() + 1, "-w");
  spec.max_output_bytes = 64 << 10;
  ASSIGN_OR_RETURN(const ProcessResult result, RunProcess(spec));
  if (!result.Succeeded()) {
    return absl::UnavailableError(
        absl::StrCat(what, ": ", spec.argv[0], " failed (", result.Describe(),
                     "): ", absl::StripTrailingAsciiWhitespace(result.stderr_data)));
  }
  return absl::OkStatus();
}

}  // namespace

bool IsPostgresDump(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[5] = {};
  return in.read(magic, sizeof(magic)) && std::string(magic, 5) == "PGDMP";
}

absl::Status DumpPostgres(const PostgresTarget& target, const std::string& to) {
  if (std::filesystem::exists(to)) {
    return absl::AlreadyExistsError(
        absl::StrCat(to, " exists; refusing to overwrite it: give a new name"));
  }
  const std::string partial = to + ".partial";
  std::error_code ignored;
  std::filesystem::remove(partial, ignored);
  const std::string what = absl::StrCat("backing up ", target.Describe());
  absl::Status status = RunTool(
      {"pg_dump", "--format=custom", "--file=" + partial, "--dbname=" + target.ConnectionString()},
      what);
  // The dump read back: a truncated file fails here, before it gets its name.
  if (status.ok()) status = RunTool({"pg_restore", "--list", partial}, what);
  if (status.ok()) {
    std::error_code error;
    std::filesystem::rename(partial, to, error);
    if (error)
      status = absl::InternalError(absl::StrCat("renaming ", partial, ": ", error.message()));
  }
  std::filesystem::remove(partial, ignored);
  return status;
}

absl::Status RestorePostgres(const std::string& from, const PostgresTarget& target) {
  if (!IsPostgresDump(from)) {
    return absl::FailedPreconditionError(
        absl::StrCat(from,
                     " is not a pg_dump custom-format file (farm-controller backup of a "
                     "PostgreSQL lab writes one)"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> db, PgConnection::Open(target));
  ASSIGN_OR_RETURN(const PgRows tables,
                   db->Exec("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"));
  if (tables.rows[0][0].value_or("0") != "0") {
    return absl::FailedPreconditionError(
        absl::StrCat(target.Describe(), " has ", tables.rows[0][0].value_or(""),
                     " tables; a backup is restored into an empty database only: create a new one "
                     "(createdb)"));
  }
  return RunTool({"pg_restore", "--single-transaction", "--exit-on-error", "--no-owner",
                  "--no-privileges", "--dbname=" + target.ConnectionString(), from},
                 absl::StrCat("restoring ", from, " into ", target.Describe()));
}

}  // namespace kvmfarm::store::postgres
