#include "controller/dashboard/dashboard.h"

#include <httplib.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/device_id.h"
#include "common/ip_address.h"
#include "common/logging.h"
#include "common/proto_enum.h"
#include "common/status_macros.h"
#include "controller/http/request_identity.h"
#include "tools/farmctl/format.h"
#include "tools/farmctl/sweep_spec.h"

namespace kvmfarm::dashboard {
namespace {

constexpr char kHtml[] = "text/html; charset=utf-8";
// How many history events and summaries a device page shows.
constexpr int kHistoryEvents = 100;
constexpr int64_t kFigures = 2000;

int HttpStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

void SecurityHeaders(httplib::Response& response) {
  // Inline style attributes draw the progress bars; nothing else inline runs.
  response.set_header("Content-Security-Policy",
                      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                      "frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("Referrer-Policy", "same-origin");
  response.set_header("Cache-Control", "no-store");
}

void Html(httplib::Response& response, int status, std::string page) {
  SecurityHeaders(response);
  response.status = status;
  response.set_content(std::move(page), kHtml);
}

void Redirect(httplib::Response& response, const std::string& to) {
  SecurityHeaders(response);
  response.status = 303;
  response.set_header("Location", to);
}

void Fail(httplib::Response& response, Frame frame, const absl::Status& status) {
  const int code = HttpStatus(status);
  frame.title = absl::StrCat("Error ", code);
  Html(response, code, ErrorPage(frame, code, status.message()));
}

// The page's frame with its title and the navigation entry it belongs to.
Frame Titled(Frame frame, std::string title, std::string section) {
  frame.title = std::move(title);
  frame.section = std::move(section);
  return frame;
}

std::string CookieValue(const httplib::Request& request, absl::string_view name) {
  for (absl::string_view part : absl::StrSplit(request.get_header_value("Cookie"), ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

// A path parameter: the text after `prefix` and before `suffix`, checked to be an
// id (letters, digits and . _ - : /, no "..", at most 200 characters; a device id
// as CheckDeviceId has it).
absl::StatusOr<std::string> PathId(const httplib::Request& request, absl::string_view prefix,
                                   absl::string_view suffix, absl::string_view what) {
  absl::string_view id = request.path;
  if (!absl::ConsumePrefix(&id, prefix) || !absl::ConsumeSuffix(&id, suffix) || id.empty()) {
    return absl::NotFoundError(absl::StrCat("no page at '", request.path.substr(0, 200), "'"));
  }
  if (what == "device id" && CheckDeviceId(id, "device id").ok()) return std::string(id);
  const bool ok =
      what != "device id" && id.size() <= 200 && !absl::StrContains(id, "..") &&
      std::all_of(id.begin(), id.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':' || c == '/';
      });
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("'", id.substr(0, 200), "' is not a ", what,
                                                   " (letters, digits and . _ - : / only)"));
  }
  return std::string(id);
}

// A safe place to go after signing in: a path on this site, of characters a path
// and its query need (no control character, space or backslash, which browsers
// drop or turn into "/", and not "//host").
std::string LocalPath(const std::string& next) {
  const bool safe = absl::StartsWith(next, "/") && !absl::StartsWith(next, "//") &&
                    next.size() <= 2000 && std::all_of(next.begin(), next.end(), [](char c) {
                      return absl::ascii_isalnum(c) ||
                             absl::string_view("/._-~?&=%+:,").find(c) != absl::string_view::npos;
                    });
  return safe ? next : "/fleet";
}

std::string PathAndQuery(const httplib::Request& request) {
  std::string out = request.path;
  char separator = '?';
  for (const auto& [key, value] : request.params) {
    absl::StrAppend(&out, std::string(1, separator), UrlEncode(key), "=", UrlEncode(value));
    separator = '&';
  }
  return out;
}

}  // namespace

absl::StatusOr<Dashboard::Visitor> Dashboard::Identify(const httplib::Request& request,
                                                       auth::Need need,
                                                       const std::string& what) const {
  if (const std::string cookie = CookieValue(request, CookieName()); !cookie.empty()) {
    absl::StatusOr<Session> session = keys_.Open(cookie, absl::Now());
    if (session.ok()) {
      absl::StatusOr<auth::Caller> caller =
          options_.authorizer->AuthorizeTokenHash(session->token_hash, need, what);
      if (!caller.ok()) return caller.status();
      return Visitor{*std::move(caller), "session." + session->nonce};
    }
    // A stale cookie (from before a restart): a token or certificate may still
    // identify the caller.
    if (!http::ClientIdentity(request) && !http::BearerToken(request)) return session.status();
  }
  // A script's bearer token (curl of /matrix.csv), else the certificate.
  const std::optional<std::string> token = http::BearerToken(request);
  ASSIGN_OR_RETURN(auth::Caller caller, options_.authorizer->AuthorizeCredentials(
                                            token, http::ClientIdentity(request), need, what));
  std::string principal = "anonymous";
  if (token) {
    principal = "token." + auth::TokenHash(*token);
  } else if (caller.kind == auth::Caller::Kind::kOperator) {
    principal = "certificate." + caller.name;
  }
  return Visitor{std::move(caller), principal};
}

absl::Status Dashboard::CheckSameSite(const httplib::Request& request) const {
  const std::string site = request.get_header_value("Sec-Fetch-Site");
  if (!site.empty() && site != "same-origin" && site != "none") {
    return absl::PermissionDeniedError(
        absl::StrCat("a form posted from another site (", site, ") is refused"));
  }
  const std::string origin = request.get_header_value("Origin");
  if (origin.empty()) return absl::OkStatus();  // a script's POST, or an older browser
  const std::string self =
      absl::StrCat(options_.secure ? "https://" : "http://", request.get_header_value("Host"));
  if (origin != self) {
    return absl::PermissionDeniedError(absl::StrCat("a form posted from ", origin.substr(0, 200),
                                                    " is refused: it is not this dashboard"));
  }
  return absl::OkStatus();
}

absl::Status Dashboard::CheckForm(const httplib::Request& request, const Visitor& visitor) const {
  RETURN_IF_ERROR(CheckSameSite(request));
  if (!keys_.CsrfMatches(visitor.principal, request.get_param_value("csrf"))) {
    return absl::PermissionDeniedError(
        "the form's CSRF token is missing or not yours: reload the page and submit it again");
  }
  return absl::OkStatus();
}

absl::Status Dashboard::CheckHost(const httplib::Request& request) const {
  // Plaintext loopback makes everyone an admin: a page on another site whose name
  // was made to point at 127.0.0.1 (DNS rebinding) must not be one.
  if (!options_.authorizer->insecure()) return absl::OkStatus();
  const std::string host = request.get_header_value("Host");
  // (Without a port, the Host of port 80.)
  if (IsLoopbackAddress(host) || IsLoopbackAddress(host + ":80")) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("Host '", host.substr(0, 100), "' is not this loopback dashboard (--insecure)"));
}

Frame Dashboard::FrameFor(const Visitor& visitor) const {
  Frame frame;
  frame.who = absl::StrCat(visitor.caller.Audit(), ", ", auth::RoleName(visitor.caller.role));
  frame.role = visitor.caller.role;
  frame.audit = visitor.caller.Audit();
  frame.csrf = keys_.CsrfToken(visitor.principal);
  frame.replicas = absl::StrCat("Served by controller ", options_.replica, ".");
  frame.now = absl::Now();
  return frame;
}

void Dashboard::Serve(httplib::Server& server, bool post, const std::string& pattern,
                      auth::Need need, Handler handler) {
  auto serve = [this, post, need, handler = std::move(handler)](const httplib::Request& request,
                                                                httplib::Response& response) {
    if (absl::Status host = CheckHost(request); !host.ok()) return Fail(response, Frame(), host);
    absl::StatusOr<Visitor> visitor = Identify(request, need, request.path);
    if (!visitor.ok()) {
      const bool data =
          absl::EndsWith(request.path, ".json") || absl::EndsWith(request.path, ".csv");
      if (absl::IsUnauthenticated(visitor.status()) && !post && !data) {
        return Redirect(response, "/signin?next=" + UrlEncode(PathAndQuery(request)));
      }
      Frame anonymous;
      anonymous.title = "Refused";
      return Fail(response, anonymous, visitor.status());
    }
    Frame frame = FrameFor(*visitor);
    if (post) {
      if (absl::Status form = CheckForm(request, *visitor); !form.ok()) {
        return Fail(response, frame, form);
      }
    }
    handler(request, response, frame);
  };
  if (post) {
    server.Post(pattern, std::move(serve));
  } else {
    server.Get(pattern, std::move(serve));
  }
}

void Dashboard::SignIn(const httplib::Request& request, httplib::Response& response) const {
  const std::string next = LocalPath(request.get_param_value("next"));
  if (absl::Status host = CheckHost(request); !host.ok()) return Fail(response, Frame(), host);
  // Signing someone in as another from a foreign page is refused like a forged form.
  if (absl::Status same = CheckSameSite(request); !same.ok()) {
    return Fail(response, Frame(), same);
  }
  const std::string token = request.get_param_value("token");
  absl::StatusOr<auth::Caller> caller = options_.authorizer->AuthorizeCredentials(
      token, std::nullopt, auth::Need::kViewer, "the dashboard");
  if (!caller.ok() || options_.authorizer->insecure()) {
    if (options_.authorizer->insecure()) return Redirect(response, next);
    FARM_LOG(WARNING) << "dashboard sign-in refused: " << caller.status().message();
    return Html(response, 401, SignInPage(caller.status().message(), next));
  }
  FARM_LOG(INFO) << "dashboard: " << caller->Audit() << " signed in";
  response.set_header(
      "Set-Cookie",
      absl::StrCat(CookieName(), "=", keys_.Issue(auth::TokenHash(token), absl::Now()),
                   "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                   absl::ToInt64Seconds(kSessionLifetime), options_.secure ? "; Secure" : ""));
  Redirect(response, next);
}

void Dashboard::FleetRoute(const httplib::Request& request, httplib::Response& response,
                           const Frame& frame) {
  FleetView view;
  view.selector = request.get_param_value("selector");
  farm::v1::ListDevicesRequest list;
  absl::StatusOr<farm::v1::Selector> selector = farmctl::ParseSelector(view.selector, "");
  if (!selector.ok()) return Fail(response, frame, selector.status());
  *list.mutable_selector() = *std::move(selector);
  list.set_page_token(request.get_param_value("page_token"));
  absl::StatusOr<farm::v1::ListDevicesResponse> page = options_.api->ListDevices(list);
  if (!page.ok()) return Fail(response, frame, page.status());
  absl::StatusOr<farm::v1::ListControllersResponse> controllers = options_.api->Controllers();
  if (!controllers.ok()) return Fail(response, frame, controllers.status());
  view.devices.assign(page->devices().begin(), page->devices().end());
  view.next_page_token = page->next_page_token();
  view.census = options_.api->fleet().Census();
  view.controllers = *std::move(controllers);
  Html(response, 200, FleetPage(Titled(frame, "Fleet", "fleet"), view));
}

void Dashboard::DeviceRoute(const httplib::Request& request, httplib::Response& response,
                            const Frame& frame) {
  absl::StatusOr<std::string> id = PathId(request, "/devices/", "", "device id");
  if (!id.ok()) return Fail(response, frame, id.status());
  DeviceView view;
  absl::StatusOr<farm::v1::Device> device = options_.api->Device(*id);
  if (!device.ok()) return Fail(response, frame, device.status());
  view.device = *std::move(device);
  farm::v1::GetDeviceHistoryRequest history;
  history.set_device_id(*id);
  history.set_page_size(kHistoryEvents);
  absl::StatusOr<farm::v1::GetDeviceHistoryResponse> events = options_.api->DeviceHistory(history);
  if (!events.ok()) return Fail(response, frame, events.status());
  view.history.assign(events->events().begin(), events->events().end());
  absl::StatusOr<std::vector<store::StoredSummary>> figures =
      options_.api->DeviceFigures(*id, kFigures);
  if (!figures.ok()) return Fail(response, frame, figures.status());
  view.summaries = *std::move(figures);
  farm::v1::GetMatrixRequest matrix;
  matrix.mutable_filter()->add_device_ids(*id);
  absl::StatusOr<farm::v1::GetMatrixResponse> row = options_.api->Matrix(matrix);
  if (!row.ok()) return Fail(response, frame, row.status());
  if (row->rows_size() > 0) view.row = row->rows(0);
  Html(response, 200, DevicePage(Titled(frame, *id, "fleet"), view));
}

void Dashboard::SetStateRoute(const httplib::Request& request, httplib::Response& response,
                              const Frame& frame) {
  absl::StatusOr<std::string> id = PathId(request, "/devices/", "/state", "device id");
  if (!id.ok()) return Fail(response, frame, id.status());
  farm::v1::SetDeviceStateRequest set;
  set.set_device_id(*id);
  const std::string health = request.get_param_value("health");
  farm::v1::HealthState parsed;
  if (!farm::v1::HealthState_Parse("HEALTH_STATE_" + absl::AsciiStrToUpper(health), &parsed)) {
    return Fail(
        response, frame,
        absl::InvalidArgumentError(absl::StrCat("health '", health.substr(0, 50),
                                                "' is not one of good, maintenance, retired")));
  }
  set.set_health(parsed);
  set.set_reason(request.get_param_value("reason"));
  absl::StatusOr<farm::v1::Device> done = options_.api->SetDeviceState(set, frame.audit);
  if (!done.ok()) return Fail(response, frame, done.status());
  Redirect(response, "/devices/" + UrlEncode(*id));
}

void Dashboard::StartSweepRoute(const httplib::Request& request, httplib::Response& response,
                                const Frame& frame) {
  farmctl::SweepOptions options;
  // "d1, d2" as typed: the lists without their spaces.
  options.selector = absl::StrReplaceAll(request.get_param_value("selector"), {{" ", ""}});
  options.devices = absl::StrReplaceAll(request.get_param_value("devices"), {{" ", ""}});
  options.plan = request.get_param_value("plan");
  options.workloads = request.get_param_value("workloads");
  if (const std::string reps = request.get_param_value("repetitions");
      !reps.empty() && (!absl::SimpleAtoi(reps, &options.repetitions) || options.repetitions < 1)) {
    return Fail(response, frame,
                absl::InvalidArgumentError(absl::StrCat("repetitions '", reps.substr(0, 50),
                                                        "' is not a number from 1 to 100")));
  }
  farm::v1::StartSweepRequest start;
  absl::StatusOr<farm::v1::SweepSpec> spec = farmctl::BuildSweepSpec(options);
  if (!spec.ok()) return Fail(response, frame, spec.status());
  *start.mutable_spec() = *std::move(spec);
  start.mutable_spec()->set_description("started from the dashboard");
  absl::StatusOr<farm::v1::Sweep> sweep = options_.api->StartSweep(start, frame.audit);
  if (!sweep.ok()) return Fail(response, frame, sweep.status());
  Redirect(response, "/sweeps/" + UrlEncode(sweep->sweep_id()));
}

void Dashboard::SweepRoute(const httplib::Request& request, httplib::Response& response,
                           const Frame& frame) {
  const bool progress = absl::EndsWith(request.path, "/progress.json");
  absl::StatusOr<std::string> id =
      PathId(request, "/sweeps/", progress ? "/progress.json" : "", "sweep id");
  if (!id.ok()) return Fail(response, frame, id.status());
  absl::StatusOr<farm::v1::Sweep> sweep = options_.api->GetSweep(*id, false);
  if (!sweep.ok()) return Fail(response, frame, sweep.status());
  if (progress) {
    SecurityHeaders(response);
    absl::StatusOr<std::string> json = SweepProgressJson(*sweep);
    if (!json.ok()) return Fail(response, frame, json.status());
    return response.set_content(*std::move(json), "application/json");
  }
  Html(response, 200, SweepPage(Titled(frame, "Sweep " + *id, "sweeps"), *sweep));
}

void Dashboard::MatrixRoute(const httplib::Request& request, httplib::Response& response,
                            const Frame& frame, const std::string& format) {
  MatrixView view;
  view.selector = request.get_param_value("selector");
  const std::string group_by = request.get_param_value("group_by");
  if (!group_by.empty() &&
      !farm::v1::GroupBy_Parse("GROUP_BY_" + absl::AsciiStrToUpper(group_by), &view.group_by)) {
    return Fail(response, frame,
                absl::InvalidArgumentError(absl::StrCat("group_by '", group_by.substr(0, 50),
                                                        "' is not one of device, model, soc")));
  }
  if (view.group_by == farm::v1::GROUP_BY_UNSPECIFIED) view.group_by = farm::v1::GROUP_BY_DEVICE;
  farm::v1::GetMatrixRequest get;
  get.set_group_by(view.group_by);
  absl::StatusOr<farm::v1::Selector> selector = farmctl::ParseSelector(view.selector, "");
  if (!selector.ok()) return Fail(response, frame, selector.status());
  *get.mutable_filter() = *std::move(selector);
  if (format == "html" && view.group_by == farm::v1::GROUP_BY_DEVICE) {
    // A page of devices, and the matrix of those only: a 10,000-device lab's page
    // doesn't build 10,000 rows to show 200.
    farm::v1::ListDevicesRequest list;
    *list.mutable_selector() = get.filter();
    list.set_page_size(kMatrixPageDevices);
    list.set_page_token(request.get_param_value("page_token"));
    absl::StatusOr<farm::v1::ListDevicesResponse> page = options_.api->ListDevices(list);
    if (!page.ok()) return Fail(response, frame, page.status());
    view.next_page_token = page->next_page_token();
    get.mutable_filter()->clear_device_ids();
    for (const farm::v1::Device& d : page->devices())
      get.mutable_filter()->add_device_ids(d.device_id());
    if (page->devices().empty()) get.mutable_filter()->add_device_ids("");  // none: no rows
  }
  absl::StatusOr<farm::v1::GetMatrixResponse> matrix = options_.api->Matrix(get);
  if (!matrix.ok()) return Fail(response, frame, matrix.status());
  if (format != "html") {
    absl::StatusOr<std::string> text = farmctl::FormatMatrix(*matrix, format);
    if (!text.ok()) return Fail(response, frame, text.status());
    SecurityHeaders(response);
    response.set_header("Content-Disposition",
                        absl::StrCat("attachment; filename=\"kvmfarm-matrix.", format, "\""));
    return response.set_content(*std::move(text),
                                format == "csv" ? "text/csv; charset=utf-8" : "application/json");
  }
  view.matrix = *std::move(matrix);
  Html(response, 200, MatrixPage(Titled(frame, "Matrix", "matrix"), view));
}

void Dashboard::CompareRoute(const httplib::Request& request, httplib::Response& response,
                             const Frame& frame) {
  CompareView view;
  view.sweep_a = request.get_param_value("a");
  view.sweep_b = request.get_param_value("b");
  farm::v1::ListSweepsRequest recent;
  recent.set_page_size(50);
  absl::StatusOr<farm::v1::ListSweepsResponse> sweeps = options_.api->ListSweeps(recent);
  if (!sweeps.ok()) return Fail(response, frame, sweeps.status());
  view.recent.assign(sweeps->sweeps().begin(), sweeps->sweeps().end());
  if (view.sweep_a.empty() != view.sweep_b.empty()) {
    return Fail(response, frame,
                absl::InvalidArgumentError("compare needs two sweeps: give both a and b"));
  }
  if (!view.sweep_a.empty()) {
    farm::v1::CompareSweepsRequest compare;
    compare.set_sweep_a(view.sweep_a);
    compare.set_sweep_b(view.sweep_b);
    absl::StatusOr<farm::v1::CompareSweepsResponse> compared = options_.api->CompareSweeps(compare);
    if (!compared.ok()) return Fail(response, frame, compared.status());
    view.comparison = *std::move(compared);
  }
  Html(response, 200, ComparePage(Titled(frame, "Compare", "compare"), view));
}

void Dashboard::AddRoutes(httplib::Server& server) {
  using Request = httplib::Request;
  using Response = httplib::Response;
  server.Get("/", [](const Request&, Response& response) { Redirect(response, "/fleet"); });
  server.Get("/static/dashboard.css", [](const Request&, Response& response) {
    response.set_header("Cache-Control", "max-age=300");
    response.set_content(std::string(Stylesheet()), "text/css; charset=utf-8");
  });
  server.Get("/static/live.js", [](const Request&, Response& response) {
    response.set_header("Cache-Control", "max-age=300");
    response.set_content(std::string(LiveScript()), "text/javascript; charset=utf-8");
  });
  server.Get("/signin", [](const Request& request, Response& response) {
    Html(response, 200, SignInPage("", LocalPath(request.get_param_value("next"))));
  });
  server.Post("/signin",
              [this](const Request& request, Response& response) { SignIn(request, response); });
  Serve(server, true, "/signout", auth::Need::kViewer,
        [this](const Request&, Response& response, const Frame&) {
          // The browser forgets the cookie; a copy of it stays valid until it
          // expires (sessions are stateless: remove the token's grant to end them).
          response.set_header("Set-Cookie", absl::StrCat(CookieName(),
                                                         "=; Path=/; HttpOnly; SameSite=Strict; "
                                                         "Max-Age=0",
                                                         options_.secure ? "; Secure" : ""));
          Redirect(response, "/signin");
        });
  auto bind = [this](auto method) {
    return
        [this, method](const Request& q, Response& r, const Frame& f) { (this->*method)(q, r, f); };
  };
  Serve(server, false, "/fleet", auth::Need::kViewer, bind(&Dashboard::FleetRoute));
  Serve(server, false, "/regressions", auth::Need::kViewer,
        [this](const Request& request, Response& response, const Frame& frame) {
          RegressionsView view;
          view.open_only = !request.get_param_value("open").empty();
          farm::v1::ListRegressionsRequest list;
          list.set_open_only(view.open_only);
          absl::StatusOr<farm::v1::ListRegressionsResponse> regressions =
              options_.api->Regressions(list);
          if (!regressions.ok()) return Fail(response, frame, regressions.status());
          absl::StatusOr<farm::v1::ListBaselinesResponse> baselines = options_.api->Baselines();
          if (!baselines.ok()) return Fail(response, frame, baselines.status());
          view.regressions = *std::move(regressions);
          view.baselines = *std::move(baselines);
          Html(response, 200, RegressionsPage(Titled(frame, "Regressions", "regressions"), view));
        });
  Serve(server, false, "/devices/.+", auth::Need::kViewer, bind(&Dashboard::DeviceRoute));
  Serve(server, true, "/devices/.+/state", auth::Need::kAdmin, bind(&Dashboard::SetStateRoute));
  Serve(server, false, "/sweeps", auth::Need::kViewer,
        [this](const Request& request, Response& response, const Frame& frame) {
          farm::v1::ListSweepsRequest list;
          list.set_page_size(50);
          list.set_page_token(request.get_param_value("page_token"));
          absl::StatusOr<farm::v1::ListSweepsResponse> sweeps = options_.api->ListSweeps(list);
          if (!sweeps.ok()) return Fail(response, frame, sweeps.status());
          Html(response, 200, SweepsPage(Titled(frame, "Sweeps", "sweeps"), *sweeps));
        });
  Serve(server, true, "/sweeps", auth::Need::kOperator, bind(&Dashboard::StartSweepRoute));
  Serve(server, false, "/sweeps/.+", auth::Need::kViewer, bind(&Dashboard::SweepRoute));
  Serve(server, true, "/sweeps/.+/cancel", auth::Need::kOperator,
        [this](const Request& request, Response& response, const Frame& frame) {
          absl::StatusOr<std::string> id = PathId(request, "/sweeps/", "/cancel", "sweep id");
          if (!id.ok()) return Fail(response, frame, id.status());
          std::string reason = request.get_param_value("reason");
          if (reason.empty()) reason = "cancelled from the dashboard";
          absl::StatusOr<farm::v1::Sweep> sweep =
              options_.api->CancelSweep(*id, reason, frame.audit);
          if (!sweep.ok()) return Fail(response, frame, sweep.status());
          Redirect(response, "/sweeps/" + UrlEncode(*id));
        });
  Serve(server, false, "/tasks/.+/logs", auth::Need::kViewer,
        [this](const Request& request, Response& response, const Frame& frame) {
          absl::StatusOr<std::string> id = PathId(request, "/tasks/", "/logs", "task id");
          if (!id.ok()) return Fail(response, frame, id.status());
          absl::StatusOr<farm::v1::GetTaskLogsResponse> logs = options_.api->TaskLogs(*id);
          if (!logs.ok()) return Fail(response, frame, logs.status());
          Html(response, 200, TaskLogsPage(Titled(frame, "Task " + *id, "sweeps"), *logs));
        });
  for (const std::string format : {"html", "csv", "json"}) {
    Serve(server, false, format == "html" ? "/matrix" : "/matrix." + format, auth::Need::kViewer,
          [this, format](const Request& request, Response& response, const Frame& frame) {
            MatrixRoute(request, response, frame, format);
          });
  }
  Serve(server, false, "/compare", auth::Need::kViewer, bind(&Dashboard::CompareRoute));
}

}  // namespace kvmfarm::dashboard
