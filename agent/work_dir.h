// -----------------------------------------------------------------------------
// File: work_dir.h
// -----------------------------------------------------------------------------
//
// The agent's own directory for the files a job writes (the io workload's file,
// guest scratch disks, QMP sockets), and the room a job may take in it.
//
// Several agents may share a work directory (/tmp), and an agent killed with
// SIGKILL or by a power cut cleans nothing up. So each agent works in a directory
// of its own, <work-dir>/farm-agent.<pid>, and holds flock(LOCK_EX) on it for its
// life: the kernel drops the lock when the agent dies, however it dies. At start
// an agent removes every farm-agent.* directory beside its own whose lock it can
// take (its owner is dead) and never one whose lock is held (its owner lives).
//
// A phone's storage is its owner's: a job that would leave less than
// MinimumFreeBytes free is refused before it writes anything.
//
// Example:
//
//   ASSIGN_OR_RETURN(std::unique_ptr<AgentWorkDir> own, AgentWorkDir::Claim(work_dir));
//   options.work_dir = own->path();  // removed with everything in it when `own` goes
//   RETURN_IF_ERROR(CheckRoomToWrite(own->path(), io_bytes, "io"));
#ifndef KVMFARM_AGENT_WORK_DIR_H_
#define KVMFARM_AGENT_WORK_DIR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvmfarm {

// The name every agent's own directory starts with.
inline constexpr char kAgentDirPrefix[] = "farm-agent.";

class AgentWorkDir {
 public:
  // Creates `parent` (and its parents, private to this user) if missing, removes
  // the directories of dead agents in it (RemoveDeadAgentDirs), then makes and
  // locks <parent>/farm-agent.<pid>. FAILED_PRECONDITION naming `parent` when it
  // can't.
  static absl::StatusOr<std::unique_ptr<AgentWorkDir>> Claim(const std::string& parent);

  AgentWorkDir(const AgentWorkDir&) = delete;
  AgentWorkDir& operator=(const AgentWorkDir&) = delete;
  // Removes the directory with everything in it, then releases the lock.
  ~AgentWorkDir();

  const std::string& path() const { return path_; }
  // The dead agents' directories Claim removed.
  const std::vector<std::string>& removed() const { return removed_; }

 private:
  AgentWorkDir(std::string path, int lock_fd, std::vector<std::string> removed)
      : path_(std::move(path)), lock_fd_(lock_fd), removed_(std::move(removed)) {}

  const std::string path_;
  const int lock_fd_;
  const std::vector<std::string> removed_;
};

// Removes every agent directory in `parent` whose lock can be taken (it is held
// while the tree goes, so two agents starting together can't both remove one);
// returns their paths. Links and files of that name are left alone.
std::vector<std::string> RemoveDeadAgentDirs(const std::string& parent);

// What must stay free on a filesystem of `total_bytes`: 10 % of it, at most 1 GiB.
// Android calls storage low below the smaller of 5 % and 500 MiB (StorageManager),
// so a job leaves the phone above that line with room for its owner's apps; a
// large filesystem (a 256 GiB phone, a lab host) keeps 1 GiB, not tens of GiB its
// owner already gave the farm.
uint64_t MinimumFreeBytes(uint64_t total_bytes);

// FAILED_PRECONDITION naming `what`, `dir`, the bytes needed and the bytes free
// when writing `bytes` in `dir` would leave less than MinimumFreeBytes free.
absl::Status CheckRoomToWrite(const std::string& dir, uint64_t bytes, const std::string& what);

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_WORK_DIR_H_
