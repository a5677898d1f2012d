// -----------------------------------------------------------------------------
// File: files.h
// -----------------------------------------------------------------------------
//
// The questions kvmfarm asks of directories and secret files, answered once.
//
// Example:
//
//   if (IsDirectory(dir)) {
//     for (const std::string& name : ListDirectory(dir)) { ... }
//   }
#ifndef KVMFARM_COMMON_FILES_H_
#define KVMFARM_COMMON_FILES_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm {

// True when `path` is a directory (or a symlink to one).
bool IsDirectory(const std::string& path);

// The names in `dir`, sorted, without "." and ".."; empty when it can't be read.
std::vector<std::string> ListDirectory(const std::string& dir);

// OK when the file at `path` (a key, a token) can be read by its owner only:
// NOT_FOUND when it can't be read, FAILED_PRECONDITION ("chmod 600 it") when group
// or others have any access. `what` names it in the message ("--token_file").
absl::Status CheckOwnerOnly(const std::string& path, absl::string_view what);

// The secret on the first line of the file at `path` (a token, a webhook's key),
// without surrounding whitespace: CheckOwnerOnly's errors, INVALID_ARGUMENT when
// it is empty. `what` names it in the message ("--token_file").
absl::StatusOr<std::string> ReadSecretFile(const std::string& path, absl::string_view what);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_FILES_H_
