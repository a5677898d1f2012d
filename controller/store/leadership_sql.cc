#include "controller/store/leadership_sql.h"

#include "absl/strings/str_cat.h"

namespace kvmfarm::store {

absl::Status FencingStatus(int64_t mine, int64_t current) {
  if (current == mine) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("fenced: this controller led as epoch ", mine, " and epoch ", current,
                   " leads now; nothing is written under an old epoch"));
}

}  // namespace kvmfarm::store
