#include "common/device_id.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace kvmfarm {

absl::Status CheckDeviceId(absl::string_view id, absl::string_view field) {
  const auto allowed = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  };
  if (!id.empty() && id.size() <= kMaxDeviceIdLength &&
      absl::ascii_isalnum(static_cast<unsigned char>(id.front())) &&
      std::all_of(id.begin(), id.end(), allowed)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, " '", absl::CEscape(id.substr(0, kMaxDeviceIdLength)),
      id.size() > kMaxDeviceIdLength ? "...'" : "'",
      " is not a device id: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter "
      "or a digit"));
}

}  // namespace kvmfarm
