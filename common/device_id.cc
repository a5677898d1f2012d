#include "common/device_id.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kvmfarm {

namespace {

bool Alnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }
bool Allowed(char c) { return Alnum(c) || c == '.' || c == '_' || c == '-'; }

}  // namespace

absl::Status CheckDeviceId(absl::string_view id, absl::string_view field) {
  if (!id.empty() && id.size() <= kMaxDeviceIdLength && Alnum(id.front()) &&
      std::all_of(id.begin(), id.end(), Allowed)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, " '", absl::CEscape(id.substr(0, kMaxDeviceIdLength)),
      id.size() > kMaxDeviceIdLength ? "...'" : "'",
      " is not a device id: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter "
      "or a digit"));
}

std::string DeviceIdFrom(absl::string_view name) {
  std::string id;
  for (char c : name) {
    if (id.empty() && !Alnum(c)) continue;
    id.push_back(Allowed(c) ? c : '-');
    if (id.size() == kMaxDeviceIdLength) break;
  }
  return id;
}

}  // namespace kvmfarm
