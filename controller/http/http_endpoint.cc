#include "controller/http/http_endpoint.h"

#include <httplib.h>
#include <openssl/ssl.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ip_address.h"
#include "common/logging.h"
#include "controller/http/controller_metrics.h"
#include "controller/http/request_identity.h"

namespace kvmfarm::http {
namespace {

// Requests are small (the dashboard's forms): anything larger is refused unread.
// (cpp-httplib reads at most 8 KiB of a form, whatever this says.)
constexpr size_t kMaxPayload = 64 << 10;

void Reply(httplib::Response& response, int status, const std::string& text) {
  response.status = status;
  response.set_content(text + "\n", "text/plain; charset=utf-8");
}

// The server's context: its certificate and key, the lab's CA for clients' (asked
// for, verified when given, not required: load balancers probe /healthz bare).
bool SetUpTls(const TlsFiles& files, SSL_CTX& context) {
  // A browser resumes its TLS session on its next connection; OpenSSL refuses to
  // resume one that verified a peer unless the context names its sessions.
  static constexpr unsigned char kSessionContext[] = "kvmfarm-http";
  return SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION) == 1 &&
         SSL_CTX_set_session_id_context(&context, kSessionContext, sizeof(kSessionContext) - 1) ==
             1 &&
         SSL_CTX_use_certificate_chain_file(&context, files.cert.c_str()) == 1 &&
         SSL_CTX_use_PrivateKey_file(&context, files.key.c_str(), SSL_FILETYPE_PEM) == 1 &&
         SSL_CTX_check_private_key(&context) == 1 &&
         SSL_CTX_load_verify_locations(&context, files.ca.c_str(), nullptr) == 1 &&
         (SSL_CTX_set_verify(&context, SSL_VERIFY_PEER, nullptr), true);
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(HttpEndpointOptions options) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(options.listen, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http_listen '", options.listen, "' is not host:port"));
  }
  if (!options.tls && !IsLoopbackAddress(options.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http_listen ", options.listen,
        ": plaintext HTTP (--insecure) serves loopback only; give the lab's certificates"));
  }
  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint());
  endpoint->options_ = std::move(options);
  if (endpoint->options_.tls) {
    const TlsFiles files = *endpoint->options_.tls;
    endpoint->server_ = std::make_unique<httplib::SSLServer>(
        [files](SSL_CTX& context) { return SetUpTls(files, context); });
  } else {
    endpoint->server_ = std::make_unique<httplib::Server>();
  }
  if (!endpoint->server_->is_valid()) {
    return absl::UnavailableError(
        absl::StrCat("--http_listen: the TLS certificate, key or CA would not load"));
  }
  const int threads = endpoint->options_.threads;  // see HttpEndpointOptions
  endpoint->server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  endpoint->server_->set_payload_max_length(kMaxPayload);
  endpoint->server_->set_read_timeout(std::chrono::seconds(10));
  // A kept-alive connection holds a pool thread until it idles this long: short, so
  // open dashboards (polling every 2 s) and idle browsers leave threads for
  // /healthz and Prometheus.
  endpoint->server_->set_keep_alive_timeout(1);
  // Small answers on loopback would otherwise wait out delayed ACKs (40 ms).
  endpoint->server_->set_tcp_nodelay(true);
  endpoint->Route();
  const int bound = port == 0 ? endpoint->server_->bind_to_any_port(host)
                              : (endpoint->server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    return absl::UnavailableError(
        absl::StrCat("--http_listen: can't listen on ", endpoint->options_.listen));
  }
  const std::string shown_host = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host;
  endpoint->url_ =
      absl::StrCat(endpoint->options_.tls ? "https://" : "http://", shown_host, ":", bound);
  httplib::Server* server = endpoint->server_.get();
  endpoint->serving_ = std::thread([server] { server->listen_after_bind(); });
  return endpoint;
}

void HttpEndpoint::Route() {
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    Reply(response, 200, "ok");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    const absl::Status ready = options_.ready();
    if (ready.ok()) return Reply(response, 200, "ready");
    Reply(response, 503, absl::StrCat("not ready: the database doesn't answer: ", ready.message()));
  });
  server_->Get("/metrics", [this](const httplib::Request& request, httplib::Response& response) {
    absl::StatusOr<auth::Caller> caller = options_.authorizer->AuthorizeCredentials(
        BearerToken(request), ClientIdentity(request), auth::Need::kViewer, "/metrics");
    if (!caller.ok()) {
      const bool who = absl::IsUnauthenticated(caller.status());
      if (who) response.set_header("WWW-Authenticate", "Bearer");
      return Reply(response, who ? 401 : 403, std::string(caller.status().message()));
    }
    absl::StatusOr<std::string> text = options_.metrics();
    if (!text.ok()) return Reply(response, 503, std::string(text.status().message()));
    response.set_content(*std::move(text), kMetricsContentType);
  });
  if (options_.routes) options_.routes(*server_);
  server_->set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    if (response.status == 404) {
      return Reply(
          response, 404,
          absl::StrCat(
              "no page at '", request.path.substr(0, 200),
              "': this controller serves the dashboard (/fleet, /sweeps, /matrix, /compare), "
              "/healthz, /readyz and /metrics"));
    }
    if (response.status == 413) {
      return Reply(response, 413,
                   "the request is too large: a form takes at most 8 KiB (for a long device "
                   "list, select the devices by label)");
    }
    Reply(response, response.status, absl::StrCat("HTTP ", response.status));
  });
}

void HttpEndpoint::Shutdown() {
  if (server_ == nullptr) return;
  server_->stop();
  if (serving_.joinable()) serving_.join();
}

HttpEndpoint::~HttpEndpoint() { Shutdown(); }

}  // namespace kvmfarm::http
