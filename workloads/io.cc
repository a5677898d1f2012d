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
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<Sample>> RunOnce() override {
    const uint64_t blocks = std::max<uint64_t>(1, size_bytes_ / kIoBlockBytes);
    const double bytes = static_cast<double>(blocks * kIoBlockBytes);
    const double start = MonotonicSeconds();
    absl::StatusOr<int> opened = OpenUnnamed();
    if (!opened.ok()) return opened.status();
    const int fd = *opened;
    absl::StatusOr<double> write_seconds = Write(fd, blocks, start);
    absl::StatusOr<double> read_seconds =
        write_seconds.ok() ? Read(fd, blocks) : write_seconds.status();
    close(fd);  // the file's blocks go with its last descriptor
    if (!read_seconds.ok()) return read_seconds.status();
    return std::vector<Sample>{{"io.write", bytes / *write_seconds / 1e6},
                               {"io.read", bytes / *read_seconds / 1e6}};
  }

 private:
  // A file in directory_ with no name, read back through the same descriptor, so
  // nothing is left behind however this process ends (SIGKILL included; a request
  // may ask for 64 GiB): O_TMPFILE, or where the filesystem lacks it a named file
  // unlinked as soon as it is open. O_DIRECT where the filesystem takes it.
  absl::StatusOr<int> OpenUnnamed() {
    int fd = open(directory_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
      std::string path = absl::StrCat(directory_, "/farm-workload-io.XXXXXX");
      fd = mkostemp(&path[0], O_CLOEXEC);
      if (fd >= 0) unlink(path.c_str());
    }
    if (fd < 0) return Errno("cannot create the io file in", directory_);
    const int flags = fcntl(fd, F_GETFL);
    if (fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) {
      note_ =
          "O_DIRECT unsupported on this filesystem: buffered I/O, fsync counted, "
          "cache dropped before reading";
      direct_ = false;
    }
    return fd;
  }

  // Seconds from `start` until every block is written and synced.
  absl::StatusOr<double> Write(int fd, uint64_t blocks, double start) {
    auto* stamp = static_cast<uint64_t*>(block_);
    for (uint64_t b = 0; b < blocks; ++b) {
      stamp[0] = b;
      if (write(fd, block_, kIoBlockBytes) != static_cast<ssize_t>(kIoBlockBytes)) {
        return Errno("write to the io file in", directory_);
      }
    }
    if (fsync(fd) != 0) return Errno("fsync of the io file in", directory_);
    return MonotonicSeconds() - start;
  }

  absl::StatusOr<double> Read(int fd, uint64_t blocks) {
    if (!direct_) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (lseek(fd, 0, SEEK_SET) != 0) return Errno("seek in the io file in", directory_);
    const double start = MonotonicSeconds();
    auto* stamp = static_cast<uint64_t*>(block_);
    for (uint64_t b = 0; b < blocks; ++b) {
      if (read(fd, block_, kIoBlockBytes) != static_cast<ssize_t>(kIoBlockBytes)) {
        return Errno("read of the io file in", directory_);
      }
      if (stamp[0] != b) {
        return absl::DataLossError(
            absl::StrCat("io: block ", b, " read back stamped ", stamp[0], ": no figure reported"));
      }
    }
    return MonotonicSeconds() - start;
  }

  const std::string name_ = "io";
  const std::string directory_;
  const uint64_t size_bytes_;
  std::string note_;
  bool direct_ = true;
  void* block_ = nullptr;
};

}  // namespace

std::unique_ptr<Workload> MakeIoWorkload(const std::string& directory, uint64_t size_bytes) {
  return std::make_unique<IoWorkload>(directory, size_bytes);
}

}  // namespace kvmfarm::workloads
