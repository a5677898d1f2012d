// farm-controller: the fleet, its state, sweeps and their results.
//
//   farm-controller --listen 127.0.0.1:7421 --db farm.db [--inventory fleet.textproto]
//   farm-controller move|backup|restore|prune ...   (the lab's database; see --help)
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/text_proto.h"
#include "common/tls/tls_flags.h"
#include "common/version.h"
#include "controller/auth/authorizer.h"
#include "controller/controller_service.h"
#include "controller/dashboard/dashboard.h"
#include "controller/fleet/fleet.h"
#include "controller/fleet/health_pings.h"
#include "controller/http/controller_metrics.h"
#include "controller/http/http_endpoint.h"
#include "controller/http/lab_counters.h"
#include "controller/lab_admin/database_commands.h"
#include "controller/leadership/leader_election.h"
#include "controller/notifications/webhook.h"
#include "controller/regressions/regression_tracker.h"
#include "controller/regressions/regression_worker.h"
#include "controller/replication/change_follower.h"
#include "controller/scheduler/agent_client.h"
#include "controller/scheduler/scheduler.h"
#include "controller/schedules/schedule_runner.h"
#include "controller/store/open_store.h"
#include "controller/store/summary_cache.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7421",
          "Address to serve gRPC on (host:port; port 0 = any free port). Loopback unless "
          "agents on other machines must reach it.");
ABSL_FLAG(std::string, db, "farm.db",
          "The compatibility database: a SQLite file (created if absent, never overwritten "
          "when it isn't kvmfarm's), or postgresql://[USER@]HOST[:PORT]/DB (no password: "
          "libpq reads PGPASSFILE or ~/.pgpass; off a local socket, TLS verify-full against "
          "--tls_ca).");
ABSL_FLAG(std::string, inventory, "",
          "A text-format farm.v1.Inventory of devices, agent addresses and operator labels.");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(10),
          "How often agents heartbeat; a device is offline after 3 missed intervals.");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file.");
ABSL_FLAG(int32_t, max_parallel, 16, "Devices measured at once, across all sweeps.");
ABSL_FLAG(std::string, access_file, "",
          "Who may call: lines 'token NAME ROLE sha256:HEX' and 'certificate NAME ROLE' (roles "
          "viewer, operator, admin; tools/pki/pki.sh token adds tokens). Re-read when it "
          "changes. Without it only agents (device certificates) may call.");

ABSL_FLAG(std::string, replica, "",
          "This controller's name among the replicas sharing --db (default: its certificate's "
          "name, or the host name with --insecure). Exactly one replica leads: it dispatches "
          "and checks liveness; every replica serves.");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(10),
          "The leader's lease: renewed every third of it; a replica takes over when it runs "
          "out. Replicas' clocks must agree to well within it.");
ABSL_FLAG(std::string, http_listen, "",
          "Serve the web dashboard, /healthz, /readyz and /metrics (Prometheus) over HTTP on "
          "host:port, e.g. 127.0.0.1:7480: HTTPS with the --tls_* certificates; pages and "
          "/metrics for viewers (a signed-in token, a bearer token or an operator "
          "certificate). Empty: no HTTP.");
ABSL_FLAG(std::string, dashboard_session_key_file, "",
          "The key that signs dashboard sessions (created, mode 0600, when missing). Give "
          "replicas the same file, as they share the access file, so a session works on "
          "every one. Empty: a key of this process, and a restart signs everyone out.");
ABSL_FLAG(int32_t, keep_raw_days, 0,
          "Retention: raw measurement rows (every repetition) and console logs older than "
          "this many days are removed, hourly while serving, or once by 'prune'; summaries, "
          "results and attempts are kept, so the matrix and comparisons don't change. 0 keeps "
          "everything.");
ABSL_FLAG(std::string, from, "",
          "move: the SQLite database to copy into --db; restore: the backup file.");
ABSL_FLAG(std::string, to, "", "backup: the new file to write the backup to.");
ABSL_FLAG(std::string, webhook_url, "",
          "POST a JSON event here when a regression opens or is fixed and when a device is "
          "quarantined (http:// or https://); retried with backoff, never delaying a sweep. "
          "Off when empty.");
ABSL_FLAG(std::string, webhook_secret_file, "",
          "A file (chmod 600) whose first line signs each webhook body: the header "
          "X-Kvmfarm-Signature: sha256=<HMAC-SHA256 of the body>.");
ABSL_FLAG(std::string, webhook_ca_file, "",
          "For an https webhook: the CA of the receiver's certificate (the system's when "
          "empty).");
ABSL_FLAG(absl::Duration, health_check_every, absl::Hours(24),
          "The default health check: a capability check of every device this often "
          "(schedule 'health-check', created once by the first leader; more, per label "
          "selector, with `farmctl schedule add --health-check`). 0: none created.");
ABSL_FLAG(absl::Duration, health_check_after_absence, absl::Hours(1),
          "A device whose agent registers after being unheard this long gets a health check "
          "(as does one with a new agent version). 0: never.");
ABSL_FLAG(double, regression_threshold_percent, 5.0,
          "A sweep's figure is a regression against its baseline when it is worse by at "
          "least this much (and significant).");
ABSL_FLAG(double, regression_significance, 0.05,
          "... and the Mann-Whitney U test's two-sided p is below this.");

namespace kvmfarm {
namespace {

absl::StatusOr<farm::v1::Inventory> ReadInventory(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--inventory ", path, " cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  farm::v1::Inventory inventory;
  const absl::Status parsed = ParseTextProto(text.str(), &inventory);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--inventory ", path, ":", parsed.message(),
        " (a text-format farm.v1.Inventory: devices { device_id: "
        "\"...\" agent_address: \"host:port\" labels { key: \"rack\" value: \"r1\" } })"));
  }
  return inventory;
}

// What the flags ask for.
struct ControllerConfig {
  std::string db;
  std::string inventory;
  absl::Duration heartbeat_interval;
  std::string listen;
  std::string port_file;
  int max_parallel;
  std::string access_file;
};

ControllerConfig ConfigFromFlags() {
  ControllerConfig config;
  const std::string db = absl::GetFlag(FLAGS_db);
  config.db = store::IsPostgresUri(db) ? db : FromUserDir(db);
  const std::string inventory = absl::GetFlag(FLAGS_inventory);
  config.inventory = inventory.empty() ? "" : FromUserDir(inventory);
  config.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  config.listen = absl::GetFlag(FLAGS_listen);
  config.port_file = FromUserDir(absl::GetFlag(FLAGS_port_file));
  config.max_parallel = absl::GetFlag(FLAGS_max_parallel);
  const std::string access_file = absl::GetFlag(FLAGS_access_file);
  config.access_file = access_file.empty() ? "" : FromUserDir(access_file);
  return config;
}

// The stored fleet, then the inventory's devices added to it.
absl::Status LoadFleet(fleet::Fleet& fleet, const std::string& inventory_path) {
  RETURN_IF_ERROR(fleet.Load());
  if (inventory_path.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const farm::v1::Inventory inventory, ReadInventory(inventory_path));
  return fleet.AddInventory(inventory);
}

// Liveness until `stop`, every half interval: inventory agents that don't
// heartbeat are health-pinged (GetStatus), up to 32 at once; devices heard from by
// neither go offline after three intervals. A round of pings waits at most a
// quarter interval (and never longer than a ping's 5 s deadline), so agents that
// don't answer can't push the liveness check off its schedule: their pings finish
// in the background.
//
// Every replica writes the heartbeats it received (one write per round) and reads
// the others'; only the leader pings, takes devices offline and prunes the change
// feed (every minute).
void RunLiveness(fleet::Fleet& fleet, store::Store& store, scheduler::AgentClient& agents,
                 absl::Duration interval, const leadership::LeaderElection& election,
                 const std::string& replica, absl::Notification& stop) {
  fleet::HealthPingOptions options;
  options.round_budget = std::min(options.round_budget, interval / 4);
  fleet::HealthPings pings(&fleet, &agents, options);
  absl::Time next = absl::Now() + interval / 2;
  absl::Time next_prune = absl::Now();
  while (!stop.WaitForNotificationWithDeadline(next)) {
    if (absl::Status flushed = fleet.FlushHeartbeats(replica); !flushed.ok()) {
      FARM_LOG(ERROR) << "writing heartbeats: " << flushed;
    }
    if (election.IsLeader()) {
      // The others' heartbeats first: a device heartbeating elsewhere isn't pinged.
      absl::Status checked = fleet.CheckLiveness();
      if (!checked.ok()) FARM_LOG(ERROR) << "liveness check: " << checked;
      pings.Round();
      if (absl::Now() >= next_prune) {
        next_prune = absl::Now() + absl::Minutes(1);
        const absl::Status pruned =
            store.PruneChanges(absl::ToUnixSeconds(absl::Now() - replication::kChangeRetention));
        if (!pruned.ok()) FARM_LOG(ERROR) << "pruning the change feed: " << pruned;
      }
    } else if (absl::Status merged = fleet.MergeHeartbeats(); !merged.ok()) {
      FARM_LOG(ERROR) << "reading other replicas' heartbeats: " << merged;
    }
    next += interval / 2;
    if (next < absl::Now()) next = absl::Now() + interval / 2;  // overran: skip, don't rush
  }
}

// The scheduling step on the leader, on a short timer, until `stop`; every second
// it also picks up sweeps started, and cancels asked, on other replicas.
// Every 5 s it runs what schedules and health checks are due.
void RunDispatch(scheduler::Scheduler& scheduler, schedules::ScheduleRunner& schedule_runner,
                 const leadership::LeaderElection& election, absl::Notification& stop) {
  for (int tick = 0; !stop.WaitForNotificationWithTimeout(absl::Milliseconds(100)); ++tick) {
    if (!election.IsLeader()) continue;
    if (tick % 50 == 0) schedule_runner.Tick();
    if (tick % 10 == 0) {
      absl::StatusOr<int> adopted = scheduler.AdoptNewSweeps();
      if (!adopted.ok()) FARM_LOG(ERROR) << "picking up new sweeps: " << adopted.status();
      absl::StatusOr<int> cancelled = scheduler.ApplyCancelRequests();
      if (!cancelled.ok()) FARM_LOG(ERROR) << "cancels asked of replicas: " << cancelled.status();
    }
    scheduler.Dispatch();
  }
}

// What other replicas wrote, into this one's memory, every 250 ms until `stop`
// (answers catch up on their own as well; this keeps watchers told). A failure is
// logged once until the feed answers again.
void RunChangeFollower(replication::ChangeFollower& follower, absl::Notification& stop) {
  bool failing = false;
  while (!stop.WaitForNotificationWithTimeout(absl::Milliseconds(250))) {
    const absl::Status caught_up = follower.CatchUp();
    if (!caught_up.ok() && !failing) FARM_LOG(ERROR) << "following other replicas: " << caught_up;
    if (caught_up.ok() && failing) FARM_LOG(INFO) << "following other replicas again";
    failing = !caught_up.ok();
  }
}

// Keeps this replica's memory true to what the others write: devices reloaded,
// the matrix's summaries read again, watchers of the leader's sweeps told.
replication::ChangeHandlers FollowerHandlers(fleet::Fleet& fleet, store::SummaryCache& summaries,
                                             scheduler::Scheduler& scheduler) {
  replication::ChangeHandlers handlers;
  handlers.devices = [&fleet](const std::vector<std::string>& ids) { return fleet.Refresh(ids); };
  handlers.summaries = [&summaries](const std::vector<std::string>& ids) {
    for (const std::string& id : ids) summaries.Invalidate(id);
    return absl::OkStatus();
  };
  handlers.sweeps = [&scheduler](const std::vector<store::StoredChange>& changes) {
    return scheduler.PublishStoredChanges(changes);
  };
  handlers.lost_track = [&fleet, &summaries] {
    summaries.InvalidateAll();
    return fleet.RefreshAll();
  };
  return handlers;
}

// The lease renewed every third of its time until `stop`.
void RunLeadership(leadership::LeaderElection& election, absl::Duration ttl,
                   absl::Notification& stop) {
  while (!stop.WaitForNotificationWithTimeout(ttl / 3)) election.Step().IgnoreError();
}

// --replica, or this process's certificate name, or the host name.
std::string ReplicaName(const Security& security) {
  const std::string flag = absl::GetFlag(FLAGS_replica);
  if (!flag.empty()) return flag;
  if (security.tls()) return security.identity->name;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// Who may call, from the access file; with TLS the process must hold a controller
// certificate.
absl::StatusOr<std::unique_ptr<auth::Authorizer>> NewAuthorizer(const Security& security,
                                                                const ControllerConfig& config) {
  auth::Authorizer::Options options;
  options.insecure = !security.tls();
  if (security.tls()) {
    if (security.identity->kind != SpiffeId::Kind::kController) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls_cert names ", security.identity->ToString(),
                       ": the controller needs a controller certificate (pki.sh controller)"));
    }
    options.lab = security.identity->lab;
  }
  options.access_file = config.access_file;
  return auth::Authorizer::Create(options);
}

// Channels to agents: over TLS, each accepts only the certificate of the device the
// fleet knows at that address.
scheduler::AgentChannelSecurity AgentChannels(const Security& security, const fleet::Fleet& fleet) {
  scheduler::AgentChannelSecurity channels;
  if (!security.tls()) return channels;
  channels.device_at = [&fleet](const std::string& address) { return fleet.DeviceAt(address); };
  channels.credentials = [security](const std::string& device_id) {
    return ChannelCredentialsFor(security, SpiffeId::Kind::kDevice, device_id);
  };
  return channels;
}

// Retention while serving: at start, then hourly, until `stop`. A round prunes
// 5,000 results at a time and checks `stop` between them, so a large backlog (the
// first round on a big database) never holds up a shutdown.
void RunRetention(store::Store& store, absl::Duration keep_raw, absl::Notification& stop) {
  constexpr int64_t kResultsAtATime = 5000;
  do {
    store::PrunedRawLogs round;
    absl::StatusOr<store::PrunedRawLogs> pruned;
    do {
      pruned = lab_admin::PruneLab(store, keep_raw, absl::Now(), kResultsAtATime);
      if (!pruned.ok()) break;
      round.results += pruned->results;
      round.measurements += pruned->measurements;
      round.console_logs += pruned->console_logs;
    } while (pruned->results == kResultsAtATime && !stop.HasBeenNotified());
    if (!pruned.ok()) FARM_LOG(ERROR) << "retention: " << pruned.status();
    if (round.results > 0 || round.console_logs > 0) {
      FARM_LOG(INFO) << "retention: removed " << round.measurements << " raw rows of "
                     << round.results << " results and " << round.console_logs
                     << " console logs older than " << keep_raw;
    }
  } while (!stop.WaitForNotificationWithTimeout(absl::Hours(1)));
}

// The HTTP side (--http_listen): health, readiness ("the store answers", on
// followers too) and /metrics from the same fleet, store and election.
absl::StatusOr<std::unique_ptr<http::HttpEndpoint>> StartHttp(
    const std::string& listen, const Security& security, auth::Authorizer& authorizer,
    ControllerApi& api, store::Store& store, const leadership::LeaderElection& election,
    const std::string& replica, const http::LabCounters& counters) {
  auto metrics = std::make_shared<http::ControllerMetrics>(
      http::MetricsSources{&api.fleet(), &store, &election, replica, &counters});
  const std::string key_file = absl::GetFlag(FLAGS_dashboard_session_key_file);
  if (key_file.empty()) {
    FARM_LOG(INFO) << "dashboard sessions are signed with a key of this process "
                   << "(--dashboard_session_key_file shares one between replicas)";
  }
  ASSIGN_OR_RETURN(const dashboard::SessionKeys keys,
                   key_file.empty() ? dashboard::SessionKeys::Random()
                                    : dashboard::SessionKeys::FromFile(key_file));
  auto web = std::make_shared<dashboard::Dashboard>(
      dashboard::DashboardOptions{&api, &authorizer, security.tls(), replica}, keys);
  http::HttpEndpointOptions options;
  // The routes keep the dashboard alive as long as the endpoint.
  options.routes = [web](httplib::Server& server) { web->AddRoutes(server); };
  options.listen = listen;
  options.tls = security.files;
  options.authorizer = &authorizer;
  options.metrics = [metrics] { return metrics->Render(); };
  options.ready = [&store] { return store.ChangeCursor().status(); };
  ASSIGN_OR_RETURN(std::unique_ptr<http::HttpEndpoint> endpoint,
                   http::HttpEndpoint::Start(std::move(options)));
  FARM_LOG(INFO) << "HTTP on " << endpoint->url()
                 << " (the dashboard, /healthz, /readyz, /metrics)";
  return endpoint;
}

// The lab's webhook (--webhook_url), or none.
absl::StatusOr<std::unique_ptr<notifications::Webhook>> StartWebhook() {
  notifications::WebhookOptions options;
  options.url = absl::GetFlag(FLAGS_webhook_url);
  if (options.url.empty()) {
    if (!absl::GetFlag(FLAGS_webhook_secret_file).empty() ||
        !absl::GetFlag(FLAGS_webhook_ca_file).empty()) {
      return absl::InvalidArgumentError(
          "--webhook_secret_file and --webhook_ca_file need --webhook_url");
    }
    return nullptr;
  }
  if (const std::string secret_file = absl::GetFlag(FLAGS_webhook_secret_file);
      !secret_file.empty()) {
    ASSIGN_OR_RETURN(options.secret,
                     ReadSecretFile(FromUserDir(secret_file), "--webhook_secret_file"));
  }
  options.ca_file = FromUserDir(absl::GetFlag(FLAGS_webhook_ca_file));
  ASSIGN_OR_RETURN(std::unique_ptr<notifications::Webhook> webhook,
                   notifications::Webhook::Start(std::move(options)));
  FARM_LOG(INFO) << "webhook: regressions and quarantines are posted to "
                 << absl::GetFlag(FLAGS_webhook_url);
  return webhook;
}

absl::StatusOr<regressions::TrackerOptions> TrackerOptionsFromFlags() {
  regressions::TrackerOptions options;
  options.threshold_percent = absl::GetFlag(FLAGS_regression_threshold_percent);
  options.significance = absl::GetFlag(FLAGS_regression_significance);
  if (options.threshold_percent < 0) {
    return absl::InvalidArgumentError("--regression_threshold_percent must not be negative");
  }
  if (!(options.significance > 0 && options.significance < 1)) {
    return absl::InvalidArgumentError("--regression_significance must be between 0 and 1");
  }
  return options;
}

// Serves until a shutdown signal. An error is a start-up failure, for the operator.
absl::Status Run(const ControllerConfig& config) {
  ASSIGN_OR_RETURN(const Security security, ServerSecurityFromFlags(config.listen));
  ASSIGN_OR_RETURN(std::unique_ptr<auth::Authorizer> authorizer, NewAuthorizer(security, config));
  // A PostgreSQL server off this machine is checked against the lab's CA.
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> database,
                   store::OpenStore(config.db, security.tls() ? security.files->ca : ""));
  // The scheduler's work and every write to the database, for /metrics.
  http::LabCounters counters;
  auto store = std::make_unique<http::TimedStore>(database.get(), &counters);
  RealClock clock;
  const std::string replica = ReplicaName(security);
  // Regressions against baselines, checked off the scheduler's lock, announced to
  // the lab's webhook once stored.
  ASSIGN_OR_RETURN(const std::unique_ptr<notifications::Webhook> webhook, StartWebhook());
  ASSIGN_OR_RETURN(const regressions::TrackerOptions tracker_options, TrackerOptionsFromFlags());
  regressions::RegressionTracker tracker(
      store.get(), &clock,
      [&webhook, &replica](const farm::v1::Regression& regression) {
        if (webhook != nullptr)
          webhook->Post(notifications::RegressionEvent(regressions::EventName(regression),
                                                       regression, replica));
      },
      tracker_options);
  regressions::RegressionWorker regression_worker(&tracker);
  fleet::FleetOptions fleet_options;
  fleet_options.heartbeat_interval = config.heartbeat_interval;
  fleet_options.health_check_after_absence = absl::GetFlag(FLAGS_health_check_after_absence);
  fleet_options.min_agent_api_version = kMinAgentApiVersion;
  fleet_options.on_quarantined = [&webhook, &replica](const farm::v1::Device& device) {
    if (webhook != nullptr) webhook->Post(notifications::QuarantineEvent(device, replica));
  };
  fleet::Fleet fleet(store.get(), &clock, fleet_options);
  scheduler::GrpcAgentClient agents(AgentChannels(security, fleet));
  store::SummaryCache summaries(store.get());
  scheduler::SchedulerOptions scheduler_options;
  scheduler_options.on_result_stored = [&summaries](const std::string& device_id) {
    summaries.Invalidate(device_id);
  };
  scheduler_options.on_sweep_finished = [&regression_worker](const farm::v1::Sweep& sweep) {
    regression_worker.SweepFinished(sweep.sweep_id());
  };
  scheduler_options.on_verdict_stored = [&regression_worker](
                                            const std::string& device_id, farm::v1::Verdict before,
                                            farm::v1::Verdict after, const std::string& sweep_id) {
    regression_worker.VerdictStored(device_id, before, after, sweep_id);
  };
  scheduler_options.max_parallel = config.max_parallel;
  scheduler_options.observer = &counters;
  scheduler::Scheduler scheduler(store.get(), &fleet, &agents, &clock, scheduler_options);
  schedules::ScheduleRunner schedule_runner(store.get(), &scheduler, &fleet, &clock);
  // The feed's position is taken before the fleet is loaded: nothing written
  // between the two is missed.
  replication::ChangeFollower follower(store.get(), &clock,
                                       FollowerHandlers(fleet, summaries, scheduler));
  RETURN_IF_ERROR(follower.Start());
  RETURN_IF_ERROR(LoadFleet(fleet, config.inventory));
  // Elected, a replica reloads the fleet as the database has it (agents may have
  // registered with another replica) and resumes every unfinished sweep, before
  // it dispatches anything.
  leadership::LeaderElectionOptions election_options;
  election_options.replica = replica;
  election_options.ttl = absl::GetFlag(FLAGS_lease_ttl);
  // The fleet was just loaded for the first claim; any later election reloads it.
  bool fleet_just_loaded = true;
  election_options.on_elected = [&](int64_t epoch) -> absl::Status {
    agents.SetLeaderEpoch(static_cast<uint64_t>(epoch));
    if (!fleet_just_loaded) RETURN_IF_ERROR(fleet.Load());
    absl::Status resumed = scheduler.Resume();
    if (!resumed.ok()) scheduler.StepDown();  // half resumed: run nothing
    // A sweep that ended just before a crash or a change of leader may not have
    // been compared with its baselines.
    if (resumed.ok()) regression_worker.RecheckNewest();
    if (resumed.ok()) {
      const absl::Status ensured =
          schedule_runner.EnsureDefaultHealthCheck(absl::GetFlag(FLAGS_health_check_every));
      if (!ensured.ok()) FARM_LOG(ERROR) << "the default health check: " << ensured;
    }
    return resumed;
  };
  election_options.on_deposed = [&scheduler] { scheduler.StepDown(); };
  leadership::LeaderElection election(store.get(), &clock, election_options);
  // A controller alone on its database leads (and has resumed) before it serves.
  absl::StatusOr<store::Leadership> first_claim = election.Step();
  fleet_just_loaded = false;  // before the leadership thread starts
  if (!first_claim.ok()) {
    return absl::Status(first_claim.status().code(),
                        absl::StrCat("taking the lead: ", first_claim.status().message()));
  }
  if (!election.IsLeader()) scheduler.StepDown();  // another replica leads: follow it
  ControllerServiceImpl service(&fleet, store.get(), &scheduler, &summaries, authorizer.get());
  service.SetCatchUp([&follower] { return follower.CatchUp(); });
  GrpcServerOptions server_options;
  // Certificates are asked for, not required: operators may come with a token.
  server_options.credentials =
      ServerCredentialsFor(security, ClientCertificates::kRequest, SpiffeId::Kind::kOperator);
  server_options.authorize = authorizer->ServerCheck();
  server_options.listen_address = config.listen;
  server_options.port_file = config.port_file;
  server_options.services = {&service};
  ASSIGN_OR_RETURN(std::unique_ptr<GrpcServer> server, GrpcServer::Start(server_options));
  election.SetAddress(server->address());
  std::unique_ptr<http::HttpEndpoint> http_endpoint;
  if (const std::string http_listen = absl::GetFlag(FLAGS_http_listen); !http_listen.empty()) {
    ASSIGN_OR_RETURN(http_endpoint,
                     StartHttp(http_listen, security, *authorizer, service.api(), *store, election,
                               election_options.replica, counters));
  }
  FARM_LOG(INFO) << "farm-controller serving on " << server->address()
                 << (security.tls()
                         ? absl::StrCat(" (mutual TLS as ", security.identity->ToString(), ")")
                         : std::string(" (plaintext loopback, --insecure)"))
                 << " with " << absl::GetFlag(FLAGS_db) << " (" << fleet.List({}).size()
                 << " devices) as replica " << election_options.replica << ", "
                 << (election.IsLeader() ? absl::StrCat("leading as epoch ", election.epoch())
                                         : absl::StrCat("following ", election.Current().holder));
  absl::Notification stop;
  std::thread leading([&] { RunLeadership(election, election_options.ttl, stop); });
  std::thread liveness([&] {
    RunLiveness(fleet, *store, agents, fleet_options.heartbeat_interval, election,
                election_options.replica, stop);
  });
  std::thread dispatcher([&] { RunDispatch(scheduler, schedule_runner, election, stop); });
  std::thread following([&] { RunChangeFollower(follower, stop); });
  std::thread retention;
  if (absl::GetFlag(FLAGS_keep_raw_days) > 0) {
    retention = std::thread(
        [&] { RunRetention(*store, absl::Hours(24) * absl::GetFlag(FLAGS_keep_raw_days), stop); });
  }
  const int signal = WaitForShutdownSignal();
  FARM_LOG(INFO) << "signal " << signal << ": shutting down";
  stop.Notify();
  leading.join();
  liveness.join();
  dispatcher.join();
  following.join();
  // What this replica heard last, for the replica that takes over.
  fleet.FlushHeartbeats(election_options.replica).IgnoreError();
  election.Resign();  // another replica takes over at once
  if (retention.joinable()) retention.join();
  // The front doors close first: no dashboard form or RPC reaches a stopped scheduler.
  if (http_endpoint != nullptr) http_endpoint->Shutdown();
  server->Shutdown(absl::ZeroDuration());
  scheduler.Shutdown();
  return absl::OkStatus();
}

// A command on the lab's database (move, backup, restore, prune); reports on stdout.
absl::Status RunDatabaseCommand(const std::string& command, const ControllerConfig& config) {
  const lab_admin::DatabaseCommand db{config.db, LabCaFromFlags(), &std::cout};
  const std::string from = absl::GetFlag(FLAGS_from);
  if (command == "move") {
    if (from.empty()) return absl::InvalidArgumentError("move needs --from farm.db");
    return lab_admin::MoveLab(db, FromUserDir(from));
  }
  if (command == "backup") return lab_admin::BackupLab(db, FromUserDir(absl::GetFlag(FLAGS_to)));
  if (command == "restore") return lab_admin::RestoreLab(db, FromUserDir(from));
  if (command != "prune") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown command '", command, "': move, backup, restore or prune (or none, to serve)"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, store::OpenStore(config.db, db.ca_file));
  ASSIGN_OR_RETURN(const store::PrunedRawLogs pruned,
                   lab_admin::PruneLab(*store, absl::Hours(24) * absl::GetFlag(FLAGS_keep_raw_days),
                                       absl::Now()));
  std::cout << "pruned " << config.db << ": " << pruned.measurements << " raw rows of "
            << pruned.results << " results and " << pruned.console_logs
            << " console logs older than " << absl::GetFlag(FLAGS_keep_raw_days)
            << " days; summaries kept\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace kvmfarm

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the kvmfarm controller: knows every device (inventory and agents that register), "
      "keeps their state and history in the compatibility database, and serves "
      "farm.v1.ControllerService.\n\n"
      "  farm-controller --listen 10.0.0.5:7421 --db farm.db --inventory fleet.textproto \\\n"
      "      --tls_ca lab/ca.crt --tls_cert lab/controller-c1.crt --tls_key lab/controller-c1.key "
      "\\\n"
      "      --access_file lab/access\n\n"
      "Serves mutual TLS with the lab's certificates (tools/pki/pki.sh); plaintext only on "
      "loopback with --insecure. Operators call with a token or an operator certificate "
      "granted a role in --access_file; agents with their device's certificate.\n\n"
      "The lab's database, with the controller stopped (move) or running (the others):\n"
      "  farm-controller move --from farm.db --db postgresql://farm@db1.lab/farm --tls_ca "
      "lab/ca.crt\n"
      "      copy a SQLite lab into an empty PostgreSQL database, checked by row counts and "
      "by GetMatrix and CompareSweeps answering identically\n"
      "  farm-controller backup --db DB --to FILE     SQLite's online backup, or pg_dump\n"
      "  farm-controller restore --from FILE --db DB  into a new SQLite file or an empty "
      "PostgreSQL database\n"
      "  farm-controller prune --db DB --keep_raw_days N   retention, e.g. from cron");
  const std::vector<char*> args = kvmfarm::ParseCommandLineFlags(argc, argv);
  if (args.size() > 2) {
    std::cerr << "farm-controller: one command at most (move, backup, restore, prune), got '"
              << args[2] << "' too\n";
    return 2;
  }
  if (args.size() == 2) {
    const absl::Status status = kvmfarm::RunDatabaseCommand(args[1], kvmfarm::ConfigFromFlags());
    if (!status.ok()) {
      std::cerr << "farm-controller " << args[1] << ": " << status.message() << "\n";
      return 2;
    }
    return 0;
  }
  kvmfarm::BlockShutdownSignals();
  const absl::Status status = kvmfarm::Run(kvmfarm::ConfigFromFlags());
  if (!status.ok()) {
    std::cerr << "farm-controller: " << status.message() << "\n";
    return 2;
  }
  return 0;
}
