// -----------------------------------------------------------------------------
// File: text_proto.h
// -----------------------------------------------------------------------------
//
// Parsing a text-format protobuf that came from outside (a fixture's
// kvm_probe.textproto, the controller's --inventory) into a status that says
// where it went wrong, instead of protobuf's own log line on stderr.
//
// Example:
//
//   farm::v1::Inventory inventory;
//   RETURN_IF_ERROR(ParseTextProto(text, &inventory));  // "3:14: Expected ..."
#ifndef KVMFARM_COMMON_TEXT_PROTO_H_
#define KVMFARM_COMMON_TEXT_PROTO_H_

#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kvmfarm {

// INVALID_ARGUMENT "LINE:COLUMN: what" (1-based) at the first error; `message` is
// then unspecified.
absl::Status ParseTextProto(absl::string_view text, google::protobuf::Message* message);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_TEXT_PROTO_H_
