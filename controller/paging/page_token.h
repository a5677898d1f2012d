// -----------------------------------------------------------------------------
// File: page_token.h
// -----------------------------------------------------------------------------
//
// Paging of the controller's lists (ListSweeps, ListDevices, GetDeviceHistory).
// Every list is in a fixed order of a number (a time, a sequence number) then an id,
// so a page ends at a key, and the next page starts just after it whatever was
// added or removed meanwhile (keyset paging: no item is skipped or repeated, and no
// offset grows with the list).
//
// The token a client gets back is opaque: it names the list and the filter it was
// issued for, so a token used with another list or another filter, or one a client
// made up, is INVALID_ARGUMENT rather than a silently wrong page. It holds nothing
// secret and nothing that reaches SQL as text.
//
// Example (in a service method):
//
//   ASSIGN_OR_RETURN(PageRequest page,
//                    ReadPageRequest(kSweeps, filter, request.page_token(),
//                                    request.page_size(), kSweepPageSizes));
//   std::vector<Sweep> sweeps = ...;  // page.size + 1 items after page.after
//   response.set_next_page_token(
//       TrimToPage(&sweeps, page, kSweeps, filter, KeyOfSweep, SizeOfSweep, kMaxPageBytes));
#ifndef KVMFARM_CONTROLLER_PAGING_PAGE_TOKEN_H_
#define KVMFARM_CONTROLLER_PAGING_PAGE_TOKEN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm::paging {

// The position of one item in its list.
struct PageKey {
  int64_t number = 0;
  std::string id;

  bool operator==(const PageKey& other) const { return number == other.number && id == other.id; }
};

// How big pages are when the client doesn't say (page_size 0), and at most.
struct PageSizes {
  int default_size = 100;
  int max_size = 1000;
};

// One request's page: the items after `after` (from the start when empty), at most `size`.
struct PageRequest {
  std::optional<PageKey> after;
  int size = 0;
};

// Reads a request's page_token and page_size for list `list` filtered by `filter`
// (any string that is equal for equal filters). INVALID_ARGUMENT naming page_token
// when the token was not issued for this list and filter.
absl::StatusOr<PageRequest> ReadPageRequest(absl::string_view list, absl::string_view filter,
                                            absl::string_view page_token, uint32_t page_size,
                                            const PageSizes& sizes);

// The token of the page that starts after `last`.
std::string NextPageToken(absl::string_view list, absl::string_view filter, const PageKey& last);

// `items` were read as up to page.size + 1 items after page.after: keeps the page,
// at most page.size items and, past its first item, at most `max_bytes` by
// `size_of` (items differ in size: a page stays under gRPC's 4 MB message limit
// whatever they hold), and returns the next page's token, or "" when none follows.
template <typename Item, typename KeyOf, typename SizeOf>
std::string TrimToPage(std::vector<Item>* items, const PageRequest& page, absl::string_view list,
                       absl::string_view filter, KeyOf key_of, SizeOf size_of, size_t max_bytes) {
  size_t keep = 0;
  size_t bytes = 0;
  for (; keep < items->size() && keep < static_cast<size_t>(page.size); ++keep) {
    bytes += size_of((*items)[keep]);
    if (keep > 0 && bytes > max_bytes) break;
  }
  if (keep == items->size()) return "";
  items->resize(keep);
  return NextPageToken(list, filter, key_of(items->back()));
}

}  // namespace kvmfarm::paging

#endif  // KVMFARM_CONTROLLER_PAGING_PAGE_TOKEN_H_
