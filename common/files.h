// -----------------------------------------------------------------------------
// File: files.h
// -----------------------------------------------------------------------------
//
// The two questions kvmfarm asks of directories, answered once.
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

namespace kvmfarm {

// True when `path` is a directory (or a symlink to one).
bool IsDirectory(const std::string& path);

// The names in `dir`, sorted, without "." and ".."; empty when it can't be read.
std::vector<std::string> ListDirectory(const std::string& dir);

}  // namespace kvmfarm

#endif  // KVMFARM_COMMON_FILES_H_
