#include "agent/work_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/files.h"
#include "common/logging.h"

namespace kvmfarm {
namespace {

// A directory is made under this name, locked, then renamed to farm-agent.<pid>: so
// a farm-agent.* directory is locked from the moment it has that name. A staging
// directory left by an agent killed in between is a dead agent's too.
constexpr char kStagingPrefix[] = "farm-agent-new.";

constexpr uint64_t kGiB = uint64_t{1} << 30;

// The work directory is ours (on a phone, kAndroidHome/work): create it, and its
// parents, private to this user.
absl::Status CreateWorkDir(const std::string& work_dir) {
  for (size_t slash = 1; slash != std::string::npos;) {
    slash = work_dir.find('/', slash + 1);
    const std::string prefix = work_dir.substr(0, slash);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot create --work-dir '", work_dir, "' (", prefix, ": ", std::strerror(errno), ")"));
    }
  }
  return absl::OkStatus();
}

// A directory of `path`, opened (not through a link) and locked without waiting;
// -1 when it is not a directory or its lock is held.
int OpenLocked(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string Gib(uint64_t bytes) {
  return absl::StrFormat("%.1f GiB", static_cast<double>(bytes) / static_cast<double>(kGiB));
}

}  // namespace

std::vector<std::string> RemoveDeadAgentDirs(const std::string& parent) {
  std::vector<std::string> removed;
  for (const std::string& name : ListDirectory(parent)) {
    if (!absl::StartsWith(name, kAgentDirPrefix) && !absl::StartsWith(name, kStagingPrefix)) {
      continue;
    }
    const std::string path = absl::StrCat(parent, "/", name);
    const int fd = OpenLocked(path);
    if (fd < 0) continue;  // a live agent's, or not a directory
    std::error_code error;
    std::filesystem::remove_all(path, error);
    close(fd);
    if (error) {
      FARM_LOG(WARNING) << "cannot remove a dead agent's directory " << path << ": "
                        << error.message();
      continue;
    }
    removed.push_back(path);
  }
  return removed;
}

absl::StatusOr<std::unique_ptr<AgentWorkDir>> AgentWorkDir::Claim(const std::string& parent) {
  if (absl::Status created = CreateWorkDir(parent); !created.ok()) return created;
  std::vector<std::string> removed = RemoveDeadAgentDirs(parent);
  const std::string path = absl::StrCat(parent, "/", kAgentDirPrefix, getpid());
  // Another agent starting at the same moment may take a staging directory for a
  // dead agent's before it is locked (and remove it): then try again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string staging = absl::StrCat(parent, "/", kStagingPrefix, "XXXXXX");
    if (mkdtemp(&staging[0]) == nullptr) break;
    const int fd = OpenLocked(staging);
    if (fd >= 0 && rename(staging.c_str(), path.c_str()) == 0) {
      return std::unique_ptr<AgentWorkDir>(new AgentWorkDir(path, fd, std::move(removed)));
    }
    if (fd >= 0) close(fd);
    rmdir(staging.c_str());
  }
  return absl::FailedPreconditionError(absl::StrCat("cannot make this agent's directory ", path,
                                                    " in --work-dir '", parent,
                                                    "': ", std::strerror(errno)));
}

AgentWorkDir::~AgentWorkDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
  close(lock_fd_);
}

uint64_t MinimumFreeBytes(uint64_t total_bytes) { return std::min(total_bytes / 10, kGiB); }

absl::Status CheckRoomToWrite(const std::string& dir, uint64_t bytes, const std::string& what) {
  struct statvfs fs;
  if (statvfs(dir.c_str(), &fs) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot see the free space of ", dir, ": ", std::strerror(errno)));
  }
  const uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
  const uint64_t keep = MinimumFreeBytes(uint64_t{fs.f_blocks} * fs.f_frsize);
  if (bytes <= free_bytes && free_bytes - bytes >= keep) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      what, " needs ", bytes, " bytes (", Gib(bytes), ") in ", dir, " but ", free_bytes, " bytes (",
      Gib(free_bytes), ") are free and ", keep, " (", Gib(keep),
      ", the smaller of 10 % of the filesystem and 1 GiB) must stay free for the device; "
      "ask for a smaller size_bytes or free space there"));
}

}  // namespace kvmfarm
