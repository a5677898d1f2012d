#include "agent/probe/sysroot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/utf8.h"

namespace kvmfarm::probe {
namespace {

absl::Status ErrnoToStatus(int err, const std::string& path) {
  const std::string message = absl::StrCat(path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace

Sysroot::Sysroot(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

std::string Sysroot::Resolve(absl::string_view path) const {
  if (path.empty() || path.front() != '/') return absl::StrCat(root_, "/", path);
  return absl::StrCat(root_, path);
}

absl::StatusOr<std::string> Sysroot::ReadFile(absl::string_view path, size_t max_bytes) const {
  ASSIGN_OR_RETURN(const std::string bytes, ReadBytes(path, max_bytes));
  return ValidUtf8(bytes);
}

absl::StatusOr<std::string> Sysroot::ReadBytes(absl::string_view path, size_t max_bytes) const {
  const std::string real = Resolve(path);
  const int fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoToStatus(errno, real);
  std::string data;
  char buffer[64 * 1024];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return ErrnoToStatus(err, real);
    }
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return absl::OutOfRangeError(
          absl::StrCat(real, " is larger than ", max_bytes, " bytes; refusing to read it"));
    }
    data.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

absl::StatusOr<std::string> Sysroot::ReadLine(absl::string_view path) const {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64 * 1024));
  return std::string(absl::StripAsciiWhitespace(text));
}

bool Sysroot::Exists(absl::string_view path) const {
  struct stat st;
  return ::lstat(Resolve(path).c_str(), &st) == 0;
}

absl::StatusOr<struct stat> Sysroot::Stat(absl::string_view path) const {
  const std::string real = Resolve(path);
  struct stat st;
  if (::stat(real.c_str(), &st) != 0) return ErrnoToStatus(errno, real);
  return st;
}

}  // namespace kvmfarm::probe
