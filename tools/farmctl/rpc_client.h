// -----------------------------------------------------------------------------
// File: rpc_client.h
// -----------------------------------------------------------------------------
//
// How farmctl calls a kvmfarm service: every call of every command goes through
// RpcClient, so the ClientContext (its deadline and the operator's token) is made in
// one place, NewClientContext, and a failed call comes back as an absl::Status
// converted by common/grpc_status.
//
// Example:
//
//   ControllerClient controller = ControllerClient::Connect("127.0.0.1:7421");
//   farm::v1::GetSweepRequest request;
//   request.set_sweep_id("s-1");
//   ASSIGN_OR_RETURN(farm::v1::GetSweepResponse response,
//                    controller.Call(&ControllerStub::GetSweep, request));
//   RETURN_IF_ERROR(controller.Stream(&ControllerStub::WatchSweep, watch_request,
//                                     [](const farm::v1::WatchSweepResponse& event) { ... }));
#ifndef KVMFARM_TOOLS_FARMCTL_RPC_CLIENT_H_
#define KVMFARM_TOOLS_FARMCTL_RPC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "farm/v1/agent.grpc.pb.h"
#include "farm/v1/controller.grpc.pb.h"

namespace kvmfarm::farmctl {

// How long a unary call may take unless the client says otherwise.
inline constexpr absl::Duration kDefaultCallDeadline = absl::Seconds(30);

// How farmctl authenticates to a server.
struct ClientSecurity {
  // The channel's TLS; nullptr = plaintext (--insecure).
  std::shared_ptr<grpc::ChannelCredentials> channel;
  // The operator's bearer token, on every call; nullptr = none. gRPC sends call
  // credentials over TLS only, so a token never travels in clear.
  std::shared_ptr<grpc::CallCredentials> token;
};

// The context of one call: its deadline `timeout` from now (none when infinite)
// and the operator's token. The only place farmctl makes a grpc::ClientContext.
std::unique_ptr<grpc::ClientContext> NewClientContext(
    absl::Duration timeout, const std::shared_ptr<grpc::CallCredentials>& token = nullptr);

// Typed calls to one service (farm::v1::ControllerService, farm::v1::AgentService).
template <typename Service>
class RpcClient {
 public:
  using Stub = typename Service::StubInterface;
  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);
  template <typename Request, typename Response>
  using StreamMethod = std::unique_ptr<grpc::ClientReaderInterface<Response>> (Stub::*)(
      grpc::ClientContext*, const Request&);

  // Unary calls end after `call_deadline`; streams run until the server ends them.
  explicit RpcClient(std::unique_ptr<Stub> stub,
                     absl::Duration call_deadline = kDefaultCallDeadline,
                     std::shared_ptr<grpc::CallCredentials> token = nullptr)
      : stub_(std::move(stub)), call_deadline_(call_deadline), token_(std::move(token)) {}

  // The gRPC target for "host:port", or for several replicas "a:7421,b:7421" (IP
  // literals, as --controller takes them): one channel over all of them, which
  // connects to the first that answers and moves on when it goes away.
  static std::string Target(const std::string& addresses) {
    if (addresses.find(',') == std::string::npos) return addresses;
    return (addresses[0] == '[' ? "ipv6:" : "ipv4:") + addresses;
  }

  // A client of the service at "host:port" or several replicas' (Target; no
  // connection is made until the first call), plaintext: for tests of servers
  // started with --insecure.
  static RpcClient Connect(const std::string& address,
                           absl::Duration call_deadline = kDefaultCallDeadline) {
    return Connect(address, ClientSecurity{}, call_deadline);
  }
  static RpcClient Connect(const std::string& address, const ClientSecurity& security,
                           absl::Duration call_deadline = kDefaultCallDeadline) {
    return RpcClient(Service::NewStub(grpc::CreateChannel(
                         Target(address),
                         security.channel ? security.channel : grpc::InsecureChannelCredentials())),
                     call_deadline, security.token);
  }

  // Calls `method` (e.g. &ControllerStub::GetSweep); the response, or the call's
  // status with its code and message.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(UnaryMethod<Request, Response> method,
                                const Request& request) const {
    std::unique_ptr<grpc::ClientContext> context = NewClientContext(call_deadline_, token_);
    Response response;
    const grpc::Status status = (stub_.get()->*method)(context.get(), request, &response);
    if (!status.ok()) return FromGrpcStatus(status);
    return response;
  }

  // Calls the paged list `method` (e.g. &ControllerStub::ListSweeps) page after
  // page, following next_page_token, and returns the items `items_of` reads from
  // each response (e.g. &ListSweepsResponse::sweeps): all of them, or the first
  // `limit` when it isn't 0.
  template <typename Request, typename Response, typename Item>
  absl::StatusOr<std::vector<Item>> CallPaged(
      UnaryMethod<Request, Response> method, Request request,
      const google::protobuf::RepeatedPtrField<Item>& (Response::*items_of)() const,
      size_t limit = 0) const {
    std::vector<Item> items;
    while (true) {
      if (limit > 0) request.set_page_size(static_cast<uint32_t>(limit - items.size()));
      absl::StatusOr<Response> page = Call(method, request);
      if (!page.ok()) return page.status();
      for (const Item& item : (*page.*items_of)()) {
        if (limit == 0 || items.size() < limit) items.push_back(item);
      }
      if (page->next_page_token().empty() || (limit > 0 && items.size() >= limit)) return items;
      // A server handing back the token it was given would never end the list.
      if (page->next_page_token() == request.page_token()) {
        return absl::InternalError("the server returned the same page_token again");
      }
      request.set_page_token(page->next_page_token());
    }
  }

  // Calls the server-streaming `method`, handing each message to `on_message` as it
  // arrives; the stream's final status.
  template <typename Request, typename Response, typename OnMessage>
  absl::Status Stream(StreamMethod<Request, Response> method, const Request& request,
                      OnMessage&& on_message) const {
    std::unique_ptr<grpc::ClientContext> context =
        NewClientContext(absl::InfiniteDuration(), token_);
    std::unique_ptr<grpc::ClientReaderInterface<Response>> reader =
        (stub_.get()->*method)(context.get(), request);
    Response message;
    while (reader->Read(&message)) on_message(message);
    return FromGrpcStatus(reader->Finish());
  }

 private:
  std::unique_ptr<Stub> stub_;
  absl::Duration call_deadline_;
  std::shared_ptr<grpc::CallCredentials> token_;
};

using ControllerStub = farm::v1::ControllerService::StubInterface;
using ControllerClient = RpcClient<farm::v1::ControllerService>;
using AgentStub = farm::v1::AgentService::StubInterface;
using AgentClient = RpcClient<farm::v1::AgentService>;

}  // namespace kvmfarm::farmctl

#endif  // KVMFARM_TOOLS_FARMCTL_RPC_CLIENT_H_
