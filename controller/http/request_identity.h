// -----------------------------------------------------------------------------
// File: request_identity.h
// -----------------------------------------------------------------------------
//
// The credentials an HTTP request to farm-controller carries, for the authorizer:
// a bearer token (Authorization: Bearer T) and the client certificate TLS verified.
// /metrics and the dashboard read them the same way.
#ifndef KVMFARM_CONTROLLER_HTTP_REQUEST_IDENTITY_H_
#define KVMFARM_CONTROLLER_HTTP_REQUEST_IDENTITY_H_

#include <optional>
#include <string>

#include "common/tls/spiffe_id.h"

namespace httplib {
struct Request;
}

namespace kvmfarm::http {

// The token of an "Authorization: Bearer T" header, if there is one.
std::optional<std::string> BearerToken(const httplib::Request& request);

// The identity of the client certificate TLS verified against the lab's CA, if one
// was presented.
std::optional<SpiffeId> ClientIdentity(const httplib::Request& request);

}  // namespace kvmfarm::http

#endif  // KVMFARM_CONTROLLER_HTTP_REQUEST_IDENTITY_H_
