#include "workloads/io.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "workloads/timer.h"

namespace kvmfarm::workloads {
namespace {

#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC 0x858458f6
#endif

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat("io: ", what, " ", path, ": ", std::strerror(errno)));
}

class IoWorkload final : public Workload {
 public:
  IoWorkload(std::string directory, uint64_t size_bytes)
      : directory_(std::move(directory)), size_bytes_(size_bytes) {}
  ~IoWorkload() override {
    if (block_ != nullptr) std::free(block_);
  }

  const std::string& name() const override { return name_; }
  std::map<std::string, std::string> parameters() const override {
    return {{"size_bytes", absl::StrCat(size_bytes_)},
            {"block_bytes", absl::StrCat(kIoBlockBytes)}};
  }
  std::string note() const override { return note_; }

  absl::Status Prepare() override {
    struct statfs fs;
    if (statfs(directory_.c_str(), &fs) != 0) return Errno("statfs", directory_);
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
      return absl::FailedPreconditionError(
          absl::StrCat("io: ", directory_,
                       " is a RAM filesystem: its figure would be memory, not a "
                       "disk; give a directory on a disk (farm-workload --dir)"));
    }
    if (posix_memalign(&block_, 4096, kIoBlockBytes) != 0) {
      return absl::ResourceExhaustedError("io: cannot allocate an aligned 1 MiB block");
    }
    std::memset(block_, 0x5a, kIoBlockBytes);
    path_ = absl::StrCat(directory_, "/farm-workload-io.", getpid(), ".tmp");
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Sample>> RunOnce() override {
    const uint64_t blocks = std::max<uint64_t>(1, size_bytes_ / kIoBlockBytes);
    const double bytes = static_cast<double>(blocks * kIoBlockBytes);
    absl::StatusOr<double> write_seconds = Write(blocks);
    if (!write_seconds.ok()) {
      unlink(path_.c_str());
      return write_seconds.status();
    }
    absl::StatusOr<double> read_seconds = Read(blocks);
    unlink(path_.c_str());
    if (!read_seconds.ok()) return read_seconds.status();
    return std::vector<Sample>{{"io.write", bytes / *write_seconds / 1e6},
                               {"io.read", bytes / *read_seconds / 1e6}};
  }

 private:
  // Opens with O_DIRECT, or without it (noting so) where the filesystem refuses.
  int Open(int flags) {
    int fd = open(path_.c_str(), flags | O_DIRECT | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EINVAL) {
      note_ =
          "O_DIRECT unsupported on this filesystem: buffered I/O, fsync counted, "
          "cache dropped before reading";
      direct_ = false;
      fd = open(path_.c_str(), flags | O_CLOEXEC, 0600);
    }
    return fd;
  }

  absl::StatusOr<double> Write(uint64_t blocks) {
    const double start = MonotonicSeconds();
    const int fd = Open(O_WRONLY | O_CREAT | O_TRUNC);
    if (fd < 0) return Errno("open for writing", path_);
    auto* stamp = static_cast<uint64_t*>(block_);
    for (uint64_t b = 0; b < blocks; ++b) {
      stamp[0] = b;
      if (write(fd, block_, kIoBlockBytes) != static_cast<ssize_t>(kIoBlockBytes)) {
        absl::Status status = Errno("write", path_);
        close(fd);
        return status;
      }
    }
    if (fsync(fd) != 0) {
      absl::Status status = Errno("fsync", path_);
      close(fd);
      return status;
    }
    close(fd);
    return MonotonicSeconds() - start;
  }

  absl::StatusOr<double> Read(uint64_t blocks) {
    if (!direct_) {
      const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
      }
    }
    const double start = MonotonicSeconds();
    const int fd = Open(O_RDONLY);
    if (fd < 0) return Errno("open for reading", path_);
    auto* stamp = static_cast<uint64_t*>(block_);
    for (uint64_t b = 0; b < blocks; ++b) {
      if (read(fd, block_, kIoBlockBytes) != static_cast<ssize_t>(kIoBlockBytes)) {
        absl::Status status = Errno("read", path_);
        close(fd);
        return status;
      }
      if (stamp[0] != b) {
        close(fd);
        return absl::DataLossError(
            absl::StrCat("io: block ", b, " read back stamped ", stamp[0], ": no figure reported"));
      }
    }
    close(fd);
    return MonotonicSeconds() - start;
  }

  const std::string name_ = "io";
  const std::string directory_;
  const uint64_t size_bytes_;
  std::string path_;
  std::string note_;
  bool direct_ = true;
  void* block_ = nullptr;
};

}  // namespace

std::unique_ptr<Workload> MakeIoWorkload(const std::string& directory, uint64_t size_bytes) {
  return std::make_unique<IoWorkload>(directory, size_bytes);
}

}  // namespace kvmfarm::workloads
