#include "agent/registrar.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/proto_time.h"
#include "farm/v1/controller.grpc.pb.h"

namespace kvmfarm {
namespace {

// Why a call to the controller failed, never empty: gRPC's code and message. gRPC
// answers some failures with a bare code, among them a request the controller
// could not parse (a string field that is not valid UTF-8).
std::string CallFailure(const grpc::Status& status) {
  const absl::Status failure = FromGrpcStatus(status);
  const std::string code = absl::StatusCodeToString(failure.code());
  if (!failure.message().empty()) return absl::StrCat(code, ": ", failure.message());
  return absl::StrCat(code, " without a message",
                      failure.code() == absl::StatusCode::kInternal
                          ? " (the controller may have failed to parse the request)"
                          : "");
}

}  // namespace

Registrar::Registrar(RegistrarOptions options,
                     std::function<farm::v1::RegisterAgentRequest()> make_request,
                     std::function<absl::optional<farm::v1::JobInfo>()> busy_job)
    : options_(std::move(options)),
      make_request_(std::move(make_request)),
      busy_job_(std::move(busy_job)) {}

Registrar::~Registrar() { Stop(); }

void Registrar::Start() { thread_ = std::thread(&Registrar::Loop, this); }

void Registrar::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Registrar::HeartbeatNow() {
  absl::MutexLock lock(&mu_);
  heartbeat_now_ = true;
}

bool Registrar::Wait(absl::Duration wait) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &Registrar::Woken), wait);
  heartbeat_now_ = false;
  return !stopping_;
}

void Registrar::Loop() {
  std::vector<std::unique_ptr<farm::v1::ControllerService::Stub>> stubs;
  for (const std::string& address : options_.controller_addresses) {
    stubs.push_back(farm::v1::ControllerService::NewStub(
        grpc::CreateChannel(address, options_.credentials ? options_.credentials
                                                          : grpc::InsecureChannelCredentials())));
  }
  if (stubs.empty()) return;
  size_t current = 0, failures_in_a_row = 0;
  std::string device_id, session;
  absl::Duration interval = absl::Seconds(10);
  ExponentialBackoff backoff(options_.min_backoff, options_.max_backoff);
  bool reported_failure = false;
  auto deadline = [this] {
    return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(options_.rpc_deadline);
  };
  // A failed call: the next replica at once (registering there), and backoff
  // once every replica has failed in a row.
  auto fail = [&](const std::string& what, const grpc::Status& status) {
    const std::string& address = options_.controller_addresses[current];
    ++failures_in_a_row;
    if (stubs.size() > 1) {
      current = (current + 1) % stubs.size();
      session.clear();
      FARM_LOG(WARNING) << what << " " << address << ": " << CallFailure(status) << " (trying "
                        << options_.controller_addresses[current] << ")";
    } else if (!reported_failure) {
      FARM_LOG(WARNING) << what << " " << address << ": " << CallFailure(status)
                        << " (retrying with backoff)";
      reported_failure = true;
    }
    return failures_in_a_row % stubs.size() == 0 ? backoff.Next() : absl::ZeroDuration();
  };
  absl::Duration wait = absl::ZeroDuration();
  while (Wait(wait)) {
    if (session.empty()) {
      grpc::ClientContext context;
      context.set_deadline(deadline());
      farm::v1::RegisterAgentResponse response;
      const grpc::Status status =
          stubs[current]->RegisterAgent(&context, make_request_(), &response);
      if (!status.ok()) {
        wait = fail("cannot register with the controller at", status);
        continue;
      }
      device_id = response.device_id();
      session = response.session_id();
      interval = FromProtoDuration(response.heartbeat_interval());
      if (interval <= absl::ZeroDuration()) interval = absl::Seconds(10);
      backoff.Reset();
      reported_failure = false;
      failures_in_a_row = 0;
      FARM_LOG(INFO) << "registered with the controller at "
                     << options_.controller_addresses[current] << " as " << device_id;
      wait = interval;
      continue;
    }
    grpc::ClientContext context;
    context.set_deadline(deadline());
    farm::v1::HeartbeatRequest request;
    request.set_device_id(device_id);
    request.set_session_id(session);
    if (absl::optional<farm::v1::JobInfo> job = busy_job_()) *request.mutable_busy_job() = *job;
    farm::v1::HeartbeatResponse response;
    const grpc::Status status = stubs[current]->Heartbeat(&context, request, &response);
    if (!status.ok()) {
      wait = fail("heartbeat to the controller at", status);
      continue;
    }
    reported_failure = false;
    failures_in_a_row = 0;
    backoff.Reset();
    if (response.register_again()) {
      FARM_LOG(INFO) << "the controller asks to register again";
      session.clear();
      wait = absl::ZeroDuration();
      continue;
    }
    wait = interval;
  }
}

}  // namespace kvmfarm
