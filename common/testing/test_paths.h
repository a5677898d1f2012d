// -----------------------------------------------------------------------------
// File: test_paths.h
// -----------------------------------------------------------------------------
//
// Where a test writes: under Bazel's TEST_TMPDIR, named after the running test so
// tests of one binary never share a database, a port file or a scratch root.
//
// Example:
//
//   const std::string db = FreshTestPath(".db");  // $TEST_TMPDIR/FleetTest.Registers.db
//   const std::string root = FreshTestDir();      // an empty directory of its own
//   const std::string tree = FreshCopyOf(Runfile("tests/fixtures/devices/sd835"));
//   ASSERT_OK_AND_ASSIGN(auto store, SqliteStore::Open(db));
#ifndef KVMFARM_COMMON_TESTING_TEST_PATHS_H_
#define KVMFARM_COMMON_TESTING_TEST_PATHS_H_

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace kvmfarm::testing {

// Bazel's per-test scratch directory.
inline std::string TestTmpDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr && dir[0] != '\0' ? dir : "/tmp";
}

// "$TEST_TMPDIR/<suite>.<test><suffix>", with whatever an earlier run left there
// (a file or a whole tree) removed.
inline std::string FreshTestPath(absl::string_view suffix = "") {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  // Typed and parameterized tests are named "Suite/0": one file name, not a directory.
  const std::string path =
      absl::StrCat(TestTmpDir(), "/", absl::StrReplaceAll(info->test_suite_name(), {{"/", "-"}}),
                   ".", absl::StrReplaceAll(info->name(), {{"/", "-"}}), suffix);
  std::error_code error;
  std::filesystem::remove_all(path, error);
  EXPECT_FALSE(error) << path << ": " << error.message();
  return path;
}

// FreshTestPath(suffix) made an empty directory (with its parents).
inline std::string FreshTestDir(absl::string_view suffix = "") {
  const std::string dir = FreshTestPath(suffix);
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  EXPECT_FALSE(error) << dir << ": " << error.message();
  return dir;
}

// FreshTestPath(suffix) made a copy of the directory tree `source`, its files
// followed through symlinks (Bazel's runfiles): a fixture the test may change.
inline std::string FreshCopyOf(const std::string& source, absl::string_view suffix = "") {
  const std::string copy = FreshTestPath(suffix);
  std::error_code error;
  std::filesystem::copy(source, copy, std::filesystem::copy_options::recursive, error);
  EXPECT_FALSE(error) << source << " -> " << copy << ": " << error.message();
  return copy;
}

}  // namespace kvmfarm::testing

#endif  // KVMFARM_COMMON_TESTING_TEST_PATHS_H_
