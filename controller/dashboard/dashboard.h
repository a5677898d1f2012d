// -----------------------------------------------------------------------------
// File: dashboard.h
// -----------------------------------------------------------------------------
//
// farm-controller's web dashboard (issue 19), served by the HTTP endpoint next to
// /metrics: the fleet, a device, the sweeps (live), the matrix (and its CSV and
// JSON) and the comparison of two sweeps. Every page is made from ControllerApi,
// the same calls the gRPC service answers with.
//
// Who may see what is the gRPC side's rule: viewers read every page, operators
// start and cancel sweeps, admins change device states. A browser signs in with
// an operator's token (POST /signin: a session cookie, HttpOnly, SameSite=Strict,
// Secure over HTTPS, 8 hours) or presents an operator certificate; a script may
// send its token as a bearer token (curl of /matrix.csv). Without an identity a page redirects to
// the sign-in page and data answers 401: nothing but the sign-in page, the stylesheet and the
// script is served to nobody. Every form carries a CSRF token bound to who signed in, and a
// cross-site Origin or Sec-Fetch-Site is refused.
//
// Example:
//
//   Dashboard dashboard({&service.api(), authorizer, /*secure=*/true, "c1"}, keys);
//   endpoint_options.routes = [&](httplib::Server& s) { dashboard.AddRoutes(s); };
#ifndef KVMFARM_CONTROLLER_DASHBOARD_DASHBOARD_H_
#define KVMFARM_CONTROLLER_DASHBOARD_DASHBOARD_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "controller/auth/authorizer.h"
#include "controller/controller_api.h"
#include "controller/dashboard/pages.h"
#include "controller/dashboard/session.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace kvmfarm::dashboard {

struct DashboardOptions {
  ControllerApi* api = nullptr;
  auth::Authorizer* authorizer = nullptr;
  // HTTPS: cookies are marked Secure.
  bool secure = false;
  // This replica's name, at the foot of every page.
  std::string replica;
};

class Dashboard {
 public:
  Dashboard(DashboardOptions options, SessionKeys keys)
      : options_(std::move(options)), keys_(std::move(keys)) {}

  // Adds every dashboard route to `server`.
  void AddRoutes(httplib::Server& server);

  // Who is asking, once they may have what `need` guards.
  struct Visitor {
    auth::Caller caller;
    // What the CSRF token is bound to: the session's nonce, the certificate's name.
    std::string principal;
  };

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, const Frame&)>;

  // Registers GET (or POST) `pattern` for visitors with `need`; the handler gets
  // the page frame. POSTs are checked for CSRF first.
  void Serve(httplib::Server& server, bool post, const std::string& pattern, auth::Need need,
             Handler handler);
  absl::StatusOr<Visitor> Identify(const httplib::Request& request, auth::Need need,
                                   const std::string& what) const;
  // A POST's Sec-Fetch-Site and Origin say it came from this dashboard.
  absl::Status CheckSameSite(const httplib::Request& request) const;
  absl::Status CheckForm(const httplib::Request& request, const Visitor& visitor) const;
  // With --insecure (everyone an admin) only a loopback Host is served.
  absl::Status CheckHost(const httplib::Request& request) const;
  // "__Host-kvmfarm_session" over HTTPS (bound to this origin), else "kvmfarm_session".
  std::string CookieName() const {
    return options_.secure ? "__Host-kvmfarm_session" : "kvmfarm_session";
  }
  Frame FrameFor(const Visitor& visitor) const;

  void SignIn(const httplib::Request& request, httplib::Response& response) const;
  void FleetRoute(const httplib::Request& request, httplib::Response& response, const Frame& frame);
  void DeviceRoute(const httplib::Request& request, httplib::Response& response,
                   const Frame& frame);
  void SetStateRoute(const httplib::Request& request, httplib::Response& response,
                     const Frame& frame);
  void StartSweepRoute(const httplib::Request& request, httplib::Response& response,
                       const Frame& frame);
  void SweepRoute(const httplib::Request& request, httplib::Response& response, const Frame& frame);
  void MatrixRoute(const httplib::Request& request, httplib::Response& response, const Frame& frame,
                   const std::string& format);
  void CompareRoute(const httplib::Request& request, httplib::Response& response,
                    const Frame& frame);

  DashboardOptions options_;
  const SessionKeys keys_;
};

}  // namespace kvmfarm::dashboard

#endif  // KVMFARM_CONTROLLER_DASHBOARD_DASHBOARD_H_
