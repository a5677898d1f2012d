// -----------------------------------------------------------------------------
// File: http_endpoint.h
// -----------------------------------------------------------------------------
//
// farm-controller's HTTP side (issue 19), on Debian's cpp-httplib: the same
// process and data as the gRPC API, for what speaks HTTP.
//   GET /healthz   open: the process serves ("ok").
//   GET /readyz    open: the store answers; 503 naming why otherwise. Followers
//                  are ready too: readiness is not leadership.
//   GET /metrics   a viewer: a bearer token (Authorization: Bearer, as Prometheus'
//                  `authorization` setting sends it) or an operator's client
//                  certificate; 401 without an identity, 403 without the role.
// And the routes HttpEndpointOptions::routes adds (the dashboard). Anything else is
// 404 with a message.
//
// With the lab's certificates it is HTTPS (TLS 1.2+), asking for, not requiring,
// a client certificate the lab's CA signed. The certificate is loaded once at start:
// a rotated one takes a restart of farm-controller (the gRPC side re-reads its
// files). Without them (--insecure) it is plaintext, loopback only, for tests.
//
// Example:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<HttpEndpoint> http, HttpEndpoint::Start(options));
//   FARM_LOG(INFO) << "metrics on " << http->url() << "/metrics";
#ifndef KVMFARM_CONTROLLER_HTTP_HTTP_ENDPOINT_H_
#define KVMFARM_CONTROLLER_HTTP_HTTP_ENDPOINT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/tls/tls_credentials.h"
#include "controller/auth/authorizer.h"

namespace httplib {
class Server;
}

namespace kvmfarm::http {

struct HttpEndpointOptions {
  // host:port; port 0 picks a free one (see url()).
  std::string listen;
  // HTTPS with these files; nullopt: plaintext, which must be loopback.
  std::optional<TlsFiles> tls;
  auth::Authorizer* authorizer = nullptr;
  // /metrics' text (ControllerMetrics::Render).
  std::function<absl::StatusOr<std::string>()> metrics;
  // /readyz: OK when the store answers.
  std::function<absl::Status()> ready;
  // More routes (the dashboard, controller/dashboard/dashboard.h), added before
  // the server starts.
  std::function<void(httplib::Server&)> routes;
  // Requests served at once; more wait in the queue.
  int threads = 16;
};

class HttpEndpoint {
 public:
  // INVALID_ARGUMENT for a bad address or a plaintext one off loopback; UNAVAILABLE
  // when it can't listen there or the TLS files won't load.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(HttpEndpointOptions options);
  ~HttpEndpoint();

  // "https://127.0.0.1:7480" (the bound port).
  std::string url() const { return url_; }

  // Stops accepting and waits for the requests being served.
  void Shutdown();

 private:
  HttpEndpoint() = default;
  void Route();

  HttpEndpointOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread serving_;
  std::string url_;
};

}  // namespace kvmfarm::http

#endif  // KVMFARM_CONTROLLER_HTTP_HTTP_ENDPOINT_H_
