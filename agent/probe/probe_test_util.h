// Test helpers for the probe: a scratch sysroot under TEST_TMPDIR.
#ifndef KVMFARM_AGENT_PROBE_PROBE_TEST_UTIL_H_
#define KVMFARM_AGENT_PROBE_PROBE_TEST_UTIL_H_

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace kvmfarm::probe::testing {

// A fresh directory laid out like a device root, one per test.
class ScratchRoot {
 public:
  ScratchRoot() {
    const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ =
        absl::StrCat(std::getenv("TEST_TMPDIR"), "/", info->test_suite_name(), ".", info->name());
    std::string cmd = absl::StrCat("rm -rf '", root_, "'");
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    ::mkdir(root_.c_str(), 0755);
  }

  const std::string& path() const { return root_; }

  // Writes `content` at the device path `relative` ("/proc/cpuinfo"), creating
  // directories.
  void Write(absl::string_view relative, absl::string_view content) const {
    const std::string full = absl::StrCat(root_, relative);
    for (size_t slash = full.find('/', root_.size() + 1); slash != std::string::npos;
         slash = full.find('/', slash + 1)) {
      ::mkdir(full.substr(0, slash).c_str(), 0755);
    }
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }

 private:
  std::string root_;
};

}  // namespace kvmfarm::probe::testing

#endif  // KVMFARM_AGENT_PROBE_PROBE_TEST_UTIL_H_
