// Test helpers for the probe: a scratch sysroot under TEST_TMPDIR.
#ifndef KVMFARM_AGENT_PROBE_PROBE_TEST_UTIL_H_
#define KVMFARM_AGENT_PROBE_PROBE_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/testing/test_paths.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe::testing {

// A fresh directory laid out like a device root, one per test: empty, or a copy
// of a fixture tree to change.
class ScratchRoot {
 public:
  ScratchRoot() { root_ = kvmfarm::testing::FreshTestDir(); }
  explicit ScratchRoot(const std::string& copy_of) {
    root_ = kvmfarm::testing::FreshCopyOf(copy_of);
  }

  const std::string& path() const { return root_; }

  // Writes `content` at the device path `relative` ("/proc/cpuinfo"), creating
  // directories.
  void Write(absl::string_view relative, absl::string_view content) const {
    const std::string full = absl::StrCat(root_, relative);
    std::error_code error;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path(), error);
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }

  // Removes the file at the device path `relative` ("/dev/kvm").
  void Remove(absl::string_view relative) const {
    std::error_code error;
    EXPECT_TRUE(std::filesystem::remove(absl::StrCat(root_, relative), error))
        << relative << ": " << error.message();
  }

 private:
  std::string root_;
};

}  // namespace kvmfarm::probe::testing

#endif  // KVMFARM_AGENT_PROBE_PROBE_TEST_UTIL_H_
