#include "controller/store/postgres/connection.h"

#include <libpq-fe.h>

#include <cstdio>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace kvmfarm::store::postgres {
namespace {

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("--db: ", why));
}

// The status of a failed statement, from its SQLSTATE.
absl::Status StatementError(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state != nullptr ? state : "";
  std::string message(absl::StripTrailingAsciiWhitespace(PQresultErrorMessage(result)));
  message = absl::StrCat("PostgreSQL ", sqlstate.empty() ? "error" : sqlstate, ": ", message);
  const std::string class_code = sqlstate.substr(0, 2);
  if (sqlstate == "23505") return absl::AlreadyExistsError(message);
  if (class_code == "23") return absl::FailedPreconditionError(message);
  if (class_code == "42") return absl::InvalidArgumentError(message);
  if (class_code == "08" || sqlstate.empty()) return absl::UnavailableError(message);
  if (class_code == "53") return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

// `key`'s value, "" when unset (without adding it, as operator[] would).
std::string Get(const PostgresTarget& target, const std::string& key) {
  auto it = target.options.find(key);
  return it == target.options.end() ? std::string() : it->second;
}

}  // namespace

std::string PostgresTarget::ConnectionString() const {
  std::vector<std::string> pairs;
  for (const auto& [key, value] : options) {
    // Quoted, with ' and \ escaped, as libpq's conninfo syntax asks.
    pairs.push_back(
        absl::StrCat(key, "='", absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"'", "\\'"}}), "'"));
  }
  return absl::StrJoin(pairs, " ");
}

std::string ByteaParam(absl::string_view bytes) {
  return absl::StrCat("\\x", absl::BytesToHexString(bytes));
}

std::string ArrayParam(const std::vector<std::string>& elements) {
  std::vector<std::string> quoted;
  for (const std::string& element : elements) {
    quoted.push_back(
        absl::StrCat("\"", absl::StrReplaceAll(element, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\""));
  }
  return absl::StrCat("{", absl::StrJoin(quoted, ","), "}");
}

std::string DoubleParam(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

std::string PostgresTarget::Describe() const {
  const auto get = [this](const char* key) { return Get(*this, key); };
  const std::string db = get("dbname");
  if (local_socket) {
    return absl::StrCat("socket ", get("host").empty() ? "(default)" : get("host"), "/", db);
  }
  return absl::StrCat(get("host"), ":", get("port").empty() ? "5432" : get("port"), "/", db);
}

absl::StatusOr<PostgresTarget> ParsePostgresTarget(absl::string_view uri,
                                                   const std::string& ca_file) {
  if (!absl::StartsWith(uri, "postgresql://") && !absl::StartsWith(uri, "postgres://")) {
    return Bad("a PostgreSQL database is a postgresql:// URI");
  }
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(std::string(uri).c_str(), &error);
  if (parsed == nullptr) {
    const std::string why = error != nullptr ? error : "cannot be parsed";
    PQfreemem(error);
    // libpq's reason may quote the URI, and a URI with '@' may hold a password:
    // then only that it is malformed is said.
    return Bad(absl::StrCat(
        "not a valid PostgreSQL URI: ",
        absl::StrContains(uri, "@") ? "malformed" : absl::StripTrailingAsciiWhitespace(why)));
  }
  PostgresTarget target;
  for (PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
    if (option->val != nullptr) target.options[option->keyword] = option->val;
  }
  PQconninfoFree(parsed);
  if (target.options.count("password") > 0) {
    return Bad(
        "a password in the URI is visible to every user through `ps`: put it in a password "
        "file (PGPASSFILE, or ~/.pgpass, mode 0600) and leave it out of --db");
  }
  if (Get(target, "dbname").empty()) return Bad("the URI names no database (postgresql://HOST/DB)");
  // libpq checks the port only when it connects: said now, before anything starts.
  if (const std::string port = Get(target, "port"); !port.empty()) {
    int number = 0;
    if (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
      return Bad(absl::StrCat("port '", port, "' is not a port number"));
    }
  }
  const std::string host = Get(target, "host");
  target.local_socket = host.empty() || host[0] == '/';
  if (!target.local_socket) {
    const std::string mode = Get(target, "sslmode");
    if (!mode.empty() && mode != "verify-full") {
      return Bad(absl::StrCat("sslmode=", mode, " for ", host,
                              ": a server off this machine is reached with sslmode=verify-full "
                              "only (the lab's CA checks its certificate and its name)"));
    }
    target.options["sslmode"] = "verify-full";
    if (!ca_file.empty() && Get(target, "sslrootcert").empty()) {
      target.options["sslrootcert"] = ca_file;
    }
  }
  return target;
}

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Open(const PostgresTarget& target) {
  std::vector<const char*> keywords, values;
  for (const auto& [keyword, value] : target.options) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* connection = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/0);
  if (PQstatus(connection) != CONNECTION_OK) {
    const std::string why(absl::StripTrailingAsciiWhitespace(PQerrorMessage(connection)));
    PQfinish(connection);
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL at ", target.Describe(), ": ", why));
  }
  return std::unique_ptr<PgConnection>(new PgConnection(connection));
}

PgConnection::~PgConnection() { PQfinish(connection_); }

absl::StatusOr<PgRows> PgConnection::Exec(const std::string& sql,
                                          const std::vector<std::optional<std::string>>& params) {
  return Exec(sql, params, /*prepared_name=*/"");
}

absl::StatusOr<PgRows> PgConnection::ExecPrepared(
    const std::string& name, const std::string& sql,
    const std::vector<std::optional<std::string>>& params) {
  if (prepared_.count(name) == 0) {
    PGresult* result = PQprepare(connection_, name.c_str(), sql.c_str(), 0, nullptr);
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    absl::Status error = ok ? absl::OkStatus() : StatementError(result);
    PQclear(result);
    RETURN_IF_ERROR(error);
    prepared_.insert(name);
  }
  return Exec(sql, params, name);
}

absl::StatusOr<PgRows> PgConnection::Exec(const std::string& sql,
                                          const std::vector<std::optional<std::string>>& params,
                                          const std::string& prepared_name) {
  std::vector<const char*> values;
  for (const std::optional<std::string>& param : params) {
    values.push_back(param ? param->c_str() : nullptr);
  }
  PGresult* result =
      prepared_name.empty()
          ? PQexecParams(connection_, sql.c_str(), static_cast<int>(values.size()),
                         /*paramTypes=*/nullptr, values.data(), /*paramLengths=*/nullptr,
                         /*paramFormats=*/nullptr, /*resultFormat=*/0)
          : PQexecPrepared(connection_, prepared_name.c_str(), static_cast<int>(values.size()),
                           values.data(), /*paramLengths=*/nullptr, /*paramFormats=*/nullptr,
                           /*resultFormat=*/0);
  const ExecStatusType status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    absl::Status error = StatementError(result);
    PQclear(result);
    return error;
  }
  PgRows rows;
  for (int c = 0; c < PQnfields(result); ++c) rows.columns.push_back(PQfname(result, c));
  for (int r = 0; r < PQntuples(result); ++r) {
    std::vector<std::optional<std::string>> row;
    for (int c = 0; c < PQnfields(result); ++c) {
      if (PQgetisnull(result, r, c)) {
        row.push_back(std::nullopt);
      } else {
        row.push_back(std::string(PQgetvalue(result, r, c), PQgetlength(result, r, c)));
      }
    }
    rows.rows.push_back(std::move(row));
  }
  PQclear(result);
  return rows;
}

absl::Status PgConnection::ExecScript(const std::string& sql) {
  PGresult* result = PQexec(connection_, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  absl::Status outcome = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                             ? absl::OkStatus()
                             : StatementError(result);
  PQclear(result);
  return outcome;
}

}  // namespace kvmfarm::store::postgres
