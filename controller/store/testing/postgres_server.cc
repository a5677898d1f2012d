#include "controller/store/testing/postgres_server.h"

#include <signal.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "controller/store/postgres/connection.h"

namespace kvmfarm::store::testing {
namespace {

// Where Debian keeps the server's binaries (not on PATH): /usr/lib/postgresql/N/bin.
absl::StatusOr<std::string> PostgresBinDir() {
  std::error_code error;
  std::string best;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
    const std::string bin = entry.path().string() + "/bin";
    if (std::filesystem::exists(bin + "/initdb") && std::filesystem::exists(bin + "/postgres") &&
        bin > best) {
      best = bin;
    }
  }
  if (best.empty()) {
    return absl::FailedPreconditionError(
        "PostgreSQL's server binaries are not in /usr/lib/postgresql/*/bin: run tools/setup.sh");
  }
  return best;
}

// `argv` as uid 1000 in a user namespace: PostgreSQL refuses to run as root.
std::vector<std::string> AsUnprivileged(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"unshare", "--user", "--map-user=1000", "--map-group=1000"});
  return argv;
}

constexpr int kPort = 5432;  // only names the socket file, in a private directory

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresServer>> PostgresServer::Start(const std::string& dir) {
  ASSIGN_OR_RETURN(const std::string bin, PostgresBinDir());
  std::filesystem::create_directories(dir);
  ProcessSpec initdb;
  initdb.argv = AsUnprivileged({bin + "/initdb", "-D", dir + "/data", "-A", "trust", "-U",
                                "kvmfarm", "-E", "UTF8", "--no-sync", "--locale=C.UTF-8"});
  initdb.timeout = absl::Minutes(2);
  ASSIGN_OR_RETURN(const ProcessResult made, RunProcess(initdb));
  if (!made.Succeeded()) {
    return absl::InternalError(
        absl::StrCat("initdb ", made.Describe(), ": ", made.stderr_data, made.stdout_data));
  }
  // A Unix socket path has at most 107 bytes: the socket goes in /tmp, not `dir`.
  char socket_dir[] = "/tmp/kvmfarm-pg.XXXXXX";
  if (mkdtemp(socket_dir) == nullptr) return absl::InternalError("mkdtemp for the socket");

  auto ready = std::make_shared<absl::Notification>();
  auto log = std::make_shared<std::string>();
  auto log_mu = std::make_shared<absl::Mutex>();
  ProcessSpec postgres;
  postgres.argv = AsUnprivileged({bin + "/postgres", "-D", dir + "/data", "-k", socket_dir, "-p",
                                  std::to_string(kPort), "-c", "listen_addresses=", "-c",
                                  "max_connections=40"});
  postgres.on_stderr_line = [ready, log, log_mu](absl::string_view line) {
    absl::MutexLock lock(log_mu.get());
    absl::StrAppend(log.get(), line, "\n");
    if (absl::StrContains(line, "ready to accept connections") && !ready->HasBeenNotified()) {
      ready->Notify();
    }
  };
  ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> process, Subprocess::Start(postgres));
  auto server = std::unique_ptr<PostgresServer>(new PostgresServer(std::move(process), socket_dir));
  const absl::Time give_up = absl::Now() + absl::Minutes(1);
  while (!ready->WaitForNotificationWithTimeout(absl::Milliseconds(100))) {
    if (server->process_->WaitFor(absl::ZeroDuration()) || absl::Now() > give_up) {
      absl::MutexLock lock(log_mu.get());
      return absl::InternalError(absl::StrCat("postgres did not start: ", *log));
    }
  }
  return server;
}

PostgresServer::~PostgresServer() { Stop(); }

void PostgresServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  ::kill(process_->pid(), SIGINT);  // fast shutdown: roll back, checkpoint, exit
  if (!process_->WaitFor(absl::Seconds(30))) process_->Kill();
  process_->Wait();
  std::error_code error;
  std::filesystem::remove_all(socket_dir_, error);
}

std::string PostgresServer::Uri(const std::string& database) const {
  return absl::StrCat("postgresql:///", database, "?host=", socket_dir_, "&port=", kPort,
                      "&user=kvmfarm&connect_timeout=10");
}

absl::Status PostgresServer::CreateDatabase(const std::string& name) {
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') {
      return absl::InvalidArgumentError(absl::StrCat("database name '", name, "'"));
    }
  }
  ASSIGN_OR_RETURN(const postgres::PostgresTarget target, postgres::ParsePostgresTarget(Uri(), ""));
  ASSIGN_OR_RETURN(std::unique_ptr<postgres::PgConnection> db,
                   postgres::PgConnection::Open(target));
  return db->ExecScript(absl::StrCat("CREATE DATABASE ", name));
}

}  // namespace kvmfarm::store::testing
