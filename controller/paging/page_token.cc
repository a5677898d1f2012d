#include "controller/paging/page_token.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kvmfarm::paging {
namespace {

// The token's format version: a token of another version is refused, not misread.
constexpr absl::string_view kTokenVersion = "p1";

// Each field is base64 on its own, so no value can forge a separator.
std::string Field(absl::string_view value) { return absl::WebSafeBase64Escape(value); }

absl::Status BadToken(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("page_token: ", why, "; start again without page_token"));
}

}  // namespace

std::string NextPageToken(absl::string_view list, absl::string_view filter, const PageKey& last) {
  return absl::WebSafeBase64Escape(
      absl::StrJoin({std::string(kTokenVersion), Field(list), Field(filter),
                     absl::StrCat(last.number), Field(last.id)},
                    "."));
}

absl::StatusOr<PageRequest> ReadPageRequest(absl::string_view list, absl::string_view filter,
                                            absl::string_view page_token, uint32_t page_size,
                                            const PageSizes& sizes) {
  PageRequest page;
  page.size = page_size == 0 ? sizes.default_size
                             : static_cast<int>(std::min<uint32_t>(page_size, sizes.max_size));
  if (page_token.empty()) return page;

  std::string text;
  std::vector<std::string> fields;
  if (absl::WebSafeBase64Unescape(page_token, &text)) fields = absl::StrSplit(text, '.');
  std::string token_list, token_filter, id;
  int64_t number = 0;
  if (fields.size() != 5 || fields[0] != kTokenVersion ||
      !absl::WebSafeBase64Unescape(fields[1], &token_list) ||
      !absl::WebSafeBase64Unescape(fields[2], &token_filter) ||
      !absl::SimpleAtoi(fields[3], &number) || !absl::WebSafeBase64Unescape(fields[4], &id)) {
    return BadToken("not a token this controller issued");
  }
  if (token_list != list) {
    return BadToken(absl::StrCat("issued for ", token_list, ", not ", list));
  }
  if (token_filter != filter) {
    return BadToken("issued for a different filter; keep the filter of the first page");
  }
  page.after = PageKey{number, std::move(id)};
  return page;
}

}  // namespace kvmfarm::paging
