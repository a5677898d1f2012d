#include "common/image_name.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kvmfarm {

absl::Status CheckImageName(absl::string_view name, absl::string_view field) {
  const bool valid = !name.empty() && name != "." && name != ".." &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                              c == '_' || c == '-';
                     });
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " '", name,
      "' is not an image name: a single name of letters, digits, '.', '_', '-' from the "
      "agent's image directory"));
}

}  // namespace kvmfarm
