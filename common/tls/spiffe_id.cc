#include "common/tls/spiffe_id.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/device_id.h"

namespace kvmfarm {

absl::string_view KindName(SpiffeId::Kind kind) {
  switch (kind) {
    case SpiffeId::Kind::kController:
      return "controller";
    case SpiffeId::Kind::kDevice:
      return "device";
    case SpiffeId::Kind::kOperator:
      return "operator";
  }
  return "unknown";
}

std::string SpiffeId::ToString() const {
  return absl::StrCat("spiffe://", lab, "/", KindName(kind), "/", name);
}

absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri) {
  constexpr absl::string_view kScheme = "spiffe://";
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", uri.substr(0, 200), "' is not a kvmfarm identity (", why, ")"));
  };
  if (!absl::StartsWith(uri, kScheme)) return bad("not spiffe://LAB/KIND/NAME");
  const std::vector<absl::string_view> parts = absl::StrSplit(uri.substr(kScheme.size()), '/');
  if (parts.size() != 3) return bad("not spiffe://LAB/KIND/NAME");
  SpiffeId id;
  if (!CheckDeviceId(parts[0], "lab").ok()) return bad("bad lab name");
  id.lab = std::string(parts[0]);
  if (parts[1] == "controller") {
    id.kind = SpiffeId::Kind::kController;
  } else if (parts[1] == "device") {
    id.kind = SpiffeId::Kind::kDevice;
  } else if (parts[1] == "operator") {
    id.kind = SpiffeId::Kind::kOperator;
  } else {
    return bad("KIND is controller, device or operator");
  }
  if (!CheckDeviceId(parts[2], "name").ok()) return bad("bad name");
  id.name = std::string(parts[2]);
  return id;
}

}  // namespace kvmfarm
