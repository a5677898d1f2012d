#include "controller/auth/authorizer.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/reflection_v1.h"
#include "common/status_macros.h"
#include "common/tls/tls_credentials.h"

namespace kvmfarm::auth {
namespace {

constexpr absl::string_view kService = "/farm.v1.ControllerService/";
constexpr absl::string_view kHowToAuthenticate =
    "give a token (FARM_TOKEN or --token_file) or an operator certificate of the lab "
    "(--tls_cert/--tls_key)";

std::string NeedName(Need need) {
  // The roles' needs have the roles' numbers.
  return need == Need::kAgent ? "agent (a device's certificate)"
                              : std::string(RoleName(static_cast<Role>(need)));
}

// The file's modification time and size, to notice a change.
int64_t FileVersion(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return -1;
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec +
         static_cast<int64_t>(info.st_size) * 7919;
}

// The token in "authorization: Bearer T", if the call carries one.
std::optional<std::string> BearerToken(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) return std::nullopt;
  absl::string_view value(it->second.data(), it->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) return std::string();
  return std::string(value);
}

}  // namespace

const std::map<std::string, Need>& ControllerAccessTable() {
  static const auto* table = new std::map<std::string, Need>{
      {ControllerMethod("RegisterAgent"), Need::kAgent},
      {ControllerMethod("Heartbeat"), Need::kAgent},
      {ControllerMethod("ListDevices"), Need::kViewer},
      {ControllerMethod("GetDeviceHistory"), Need::kViewer},
      {ControllerMethod("GetSweep"), Need::kViewer},
      {ControllerMethod("WatchSweep"), Need::kViewer},
      {ControllerMethod("ListSweeps"), Need::kViewer},
      {ControllerMethod("GetMatrix"), Need::kViewer},
      {ControllerMethod("CompareSweeps"), Need::kViewer},
      {ControllerMethod("GetTaskLogs"), Need::kViewer},
      {ControllerMethod("ListControllers"), Need::kViewer},
      {ControllerMethod("ListBaselines"), Need::kViewer},
      {ControllerMethod("ListRegressions"), Need::kViewer},
      {ControllerMethod("SetBaseline"), Need::kOperator},
      {ControllerMethod("ListSchedules"), Need::kViewer},
      {ControllerMethod("AddSchedule"), Need::kOperator},
      {ControllerMethod("DeleteSchedule"), Need::kOperator},
      {ControllerMethod("ReserveDevice"), Need::kOperator},
      {ControllerMethod("ReleaseDevice"), Need::kOperator},
      {ControllerMethod("StartSweep"), Need::kOperator},
      {ControllerMethod("CancelSweep"), Need::kOperator},
      {ControllerMethod("SetDeviceState"), Need::kAdmin},
      {kReflectionV1Method, Need::kViewer},
      {kReflectionV1AlphaMethod, Need::kViewer},
  };
  return *table;
}

std::string ControllerMethod(absl::string_view method) { return absl::StrCat(kService, method); }

std::string Caller::Audit() const {
  switch (kind) {
    case Kind::kAnonymous:
      return "anonymous (plaintext loopback)";
    case Kind::kOperator:
      return absl::StrCat(name, " (", credential, ")");
    case Kind::kDevice:
      return absl::StrCat("device ", name);
  }
  return name;
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(Options options) {
  auto authorizer = std::unique_ptr<Authorizer>(new Authorizer(std::move(options)));
  std::shared_ptr<const AccessGrants> grants;
  int64_t version = 0;
  RETURN_IF_ERROR(authorizer->Load(&grants, &version));
  absl::MutexLock lock(&authorizer->mu_);
  authorizer->grants_ = std::move(grants);
  authorizer->loaded_version_ = version;
  authorizer->next_check_ = absl::Now() + authorizer->options_.reload_interval;
  return authorizer;
}

absl::Status Authorizer::Load(std::shared_ptr<const AccessGrants>* grants, int64_t* version) {
  if (options_.access_file.empty()) {
    *grants = std::make_shared<AccessGrants>();
    return absl::OkStatus();
  }
  *version = FileVersion(options_.access_file);
  std::ifstream in(options_.access_file);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("--access_file ", options_.access_file, " cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  ASSIGN_OR_RETURN(AccessGrants parsed, ParseAccessFile(text.str(), options_.access_file));
  *grants = std::make_shared<AccessGrants>(std::move(parsed));
  return absl::OkStatus();
}

std::shared_ptr<const AccessGrants> Authorizer::Grants(bool look_now) {
  absl::MutexLock lock(&mu_);
  if (options_.access_file.empty() || (!look_now && absl::Now() < next_check_)) return grants_;
  next_check_ = absl::Now() + options_.reload_interval;
  if (FileVersion(options_.access_file) == loaded_version_) return grants_;
  std::shared_ptr<const AccessGrants> grants;
  int64_t version = 0;
  const absl::Status loaded = Load(&grants, &version);
  loaded_version_ = version;  // a bad file is reported once, not on every call
  if (!loaded.ok()) {
    FARM_LOG(ERROR) << "keeping the previous grants: " << loaded;
    return grants_;
  }
  FARM_LOG(INFO) << "access file " << options_.access_file << " reloaded";
  grants_ = std::move(grants);
  return grants_;
}

std::optional<Grant> Authorizer::Find(const Grant* (AccessGrants::*lookup)(const std::string&)
                                          const,
                                      const std::string& key) {
  // A credential granted a moment ago works at once: a miss looks at the file.
  for (bool look_now : {false, true}) {
    const std::shared_ptr<const AccessGrants> grants = Grants(look_now);
    if (const Grant* grant = ((*grants).*lookup)(key)) return *grant;
  }
  return std::nullopt;
}

absl::StatusOr<Caller> Authorizer::Identify(const grpc::ServerContext& context) {
  std::optional<std::string> token = BearerToken(context);
  // The certificate only counts without a token, and a call made in-process (a
  // unit test's bare context) has no connection to take one from.
  std::optional<SpiffeId> peer;
  const std::shared_ptr<const grpc::AuthContext> connection = context.auth_context();
  if (!options_.insecure && !token && connection != nullptr) peer = PeerIdentity(*connection);
  return Identify(token, peer);
}

absl::StatusOr<Caller> Authorizer::Identify(const std::optional<std::string>& bearer_token,
                                            const std::optional<SpiffeId>& peer) {
  Caller caller;
  if (options_.insecure) {
    caller.role = Role::kAdmin;
    return caller;
  }
  if (const std::optional<std::string>& token = bearer_token) {
    if (token->empty()) {
      return absl::UnauthenticatedError(
          "the bearer token is not granted by the controller's access file");
    }
    return IdentifyTokenHash(TokenHash(*token));
  }
  if (!peer || peer->lab != options_.lab) {
    return absl::UnauthenticatedError(absl::StrCat("no identity: ", kHowToAuthenticate));
  }
  caller.name = peer->name;
  if (peer->kind == SpiffeId::Kind::kDevice) {
    caller.kind = Caller::Kind::kDevice;
    return caller;
  }
  std::optional<Grant> grant;
  if (peer->kind == SpiffeId::Kind::kOperator)
    grant = Find(&AccessGrants::ForCertificate, peer->name);
  if (!grant) {
    return absl::PermissionDeniedError(
        absl::StrCat(peer->ToString(), " has no role: grant it one in the access file ",
                     "('certificate ", peer->name, " viewer')"));
  }
  caller.kind = Caller::Kind::kOperator;
  caller.credential = "certificate";
  caller.role = grant->role;
  return caller;
}

absl::StatusOr<Caller> Authorizer::Authorize(const grpc::ServerContext& context,
                                             const std::string& method) {
  const auto& table = ControllerAccessTable();
  auto rule = table.find(method);
  if (rule == table.end()) {
    return absl::PermissionDeniedError(absl::StrCat(method, " is not in the access table"));
  }
  ASSIGN_OR_RETURN(Caller caller, Identify(context));
  return Allow(caller, rule->second, method.substr(method.rfind('/') + 1));
}

absl::StatusOr<Caller> Authorizer::IdentifyTokenHash(const std::string& hash) {
  const std::optional<Grant> grant = Find(&AccessGrants::ForTokenHash, hash);
  if (!grant) {
    return absl::UnauthenticatedError(
        "the bearer token is not granted by the controller's access file");
  }
  Caller caller;
  caller.kind = Caller::Kind::kOperator;
  caller.name = grant->name;
  caller.credential = "token";
  caller.role = grant->role;
  return caller;
}

absl::StatusOr<Caller> Authorizer::AuthorizeTokenHash(const std::string& token_hash, Need need,
                                                      const std::string& what) {
  if (options_.insecure) return Identify(std::nullopt, std::nullopt);
  ASSIGN_OR_RETURN(Caller caller, IdentifyTokenHash(token_hash));
  return Allow(caller, need, what);
}

absl::StatusOr<Caller> Authorizer::AuthorizeCredentials(
    const std::optional<std::string>& bearer_token, const std::optional<SpiffeId>& peer, Need need,
    const std::string& what) {
  ASSIGN_OR_RETURN(Caller caller, Identify(bearer_token, peer));
  return Allow(caller, need, what);
}

absl::StatusOr<Caller> Authorizer::Allow(const Caller& caller, Need need, const std::string& what) {
  if (caller.kind == Caller::Kind::kAnonymous) return caller;
  const bool agent_call = need == Need::kAgent;
  const bool allowed = agent_call ? caller.kind == Caller::Kind::kDevice
                                  : caller.kind == Caller::Kind::kOperator &&
                                        static_cast<int>(caller.role) >= static_cast<int>(need);
  if (!allowed) {
    return absl::PermissionDeniedError(absl::StrCat(
        what, " needs the ", NeedName(need), " role; ", caller.Audit(), " is ",
        caller.kind == Caller::Kind::kDevice ? "a device's agent"
                                             : absl::StrCat("a ", RoleName(caller.role))));
  }
  return caller;
}

std::function<grpc::Status(const grpc::ServerContext&, const char*)> Authorizer::ServerCheck() {
  return [this](const grpc::ServerContext& context, const char* method) {
    return ToGrpcStatus(Authorize(context, method).status());
  };
}

}  // namespace kvmfarm::auth
