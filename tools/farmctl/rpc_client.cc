#include "tools/farmctl/rpc_client.h"

#include "absl/time/clock.h"

namespace kvmfarm::farmctl {

std::unique_ptr<grpc::ClientContext> NewClientContext(
    absl::Duration timeout, const std::shared_ptr<grpc::CallCredentials>& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (token) context->set_credentials(token);
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return context;
}

}  // namespace kvmfarm::farmctl
