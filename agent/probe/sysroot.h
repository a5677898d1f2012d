// -----------------------------------------------------------------------------
// File: sysroot.h
// -----------------------------------------------------------------------------
//
// Every file the probe reads goes through a Sysroot: a root prefix that is "/" on
// the real device and a fixture directory in tests (tests/fixtures/devices/<name>).
// So the same code reads a phone, this host, or a captured tree, and a probe with a
// fixture sysroot touches nothing of the host. Text comes back valid UTF-8
// (common/utf8.h), so what a device holds can go into the capability as it is.
//
// Example:
//
//   Sysroot root("/");
//   ASSIGN_OR_RETURN(std::string cpuinfo, root.ReadFile("/proc/cpuinfo"));
#ifndef KVMFARM_AGENT_PROBE_SYSROOT_H_
#define KVMFARM_AGENT_PROBE_SYSROOT_H_

#include <sys/stat.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvmfarm::probe {

class Sysroot {
 public:
  // Files larger than this are refused rather than read into memory.
  static constexpr size_t kDefaultMaxBytes = 16 << 20;

  // `root` is a directory; "" and "/" both mean the machine itself.
  explicit Sysroot(std::string root);

  // True when the sysroot is the machine the agent runs on: only then may the
  // probe run host tools or ioctls.
  bool is_host() const { return root_.empty(); }
  // The root as given ("/" for the host).
  std::string root() const { return root_.empty() ? "/" : root_; }

  // The real path of `path` (an absolute device path such as "/proc/cpuinfo").
  std::string Resolve(absl::string_view path) const;

  // Reads a whole text file as valid UTF-8: a byte sequence that is not becomes
  // U+FFFD (ValidUtf8). /proc files report size 0, so it reads to EOF. Errors:
  // NOT_FOUND, PERMISSION_DENIED, OUT_OF_RANGE (larger than max_bytes), INTERNAL.
  absl::StatusOr<std::string> ReadFile(absl::string_view path,
                                       size_t max_bytes = kDefaultMaxBytes) const;

  // Reads a whole file as it is, for binary content (/proc/config.gz). Errors as
  // ReadFile.
  absl::StatusOr<std::string> ReadBytes(absl::string_view path,
                                        size_t max_bytes = kDefaultMaxBytes) const;

  // Reads a one-line file (sysfs) and strips surrounding whitespace.
  absl::StatusOr<std::string> ReadLine(absl::string_view path) const;

  bool Exists(absl::string_view path) const;
  absl::StatusOr<struct stat> Stat(absl::string_view path) const;

 private:
  std::string root_;  // without trailing '/'; empty = host
};

}  // namespace kvmfarm::probe

#endif  // KVMFARM_AGENT_PROBE_SYSROOT_H_
