#include "agent/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/testing/test_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm {
namespace {

// A fresh directory standing for where farm-agent was pushed.
std::string AgentHome(const std::string& name) {
  return kvmfarm::testing::FreshTestDir(absl::StrCat(".", name));
}

void MakeExecutable(const std::string& path) {
  std::ofstream(path) << "#!/bin/sh\n";
  chmod(path.c_str(), 0755);
}

TEST(AgentPathsTest, FlagsWin) {
  const std::string home = AgentHome("flags");
  mkdir((home + "/images").c_str(), 0755);
  PathFlags flags{"/w", "/i", "/bin/true"};
  const AgentPaths paths = ResolveAgentPaths(flags, /*android=*/true, home + "/farm-agent");
  EXPECT_EQ(paths.work_dir, "/w");
  EXPECT_EQ(paths.image_dir, "/i");
  EXPECT_EQ(paths.farm_workload, "/bin/true");
}

TEST(AgentPathsTest, FilesBesideTheAgentAreFound) {
  const std::string home = AgentHome("beside");
  mkdir((home + "/images").c_str(), 0755);
  MakeExecutable(home + "/farm-workload");
  const AgentPaths paths = ResolveAgentPaths({}, /*android=*/true, home + "/farm-agent");
  EXPECT_EQ(paths.image_dir, home + "/images");
  EXPECT_EQ(paths.farm_workload, home + "/farm-workload");
}

TEST(AgentPathsTest, BuiltImagesAreTakenFromBazelBinNotTheRunfilesLinks) {
  const std::string bin = AgentHome("bazel-bin");
  const std::string runfiles = bin + "/agent/farm-agent.runfiles/kvmfarm/guest_images/images";
  for (const std::string& dir : {bin + "/guest_images/images", runfiles}) {
    std::filesystem::create_directories(dir);
  }
  const AgentPaths paths = ResolveAgentPaths({}, /*android=*/false, bin + "/agent/farm-agent");
  EXPECT_EQ(paths.image_dir, bin + "/agent/../guest_images/images");
}

TEST(AgentPathsTest, OnAndroidEverythingDefaultsUnderOneDirectory) {
  const std::string home = AgentHome("android");
  const AgentPaths paths = ResolveAgentPaths({}, /*android=*/true, home + "/farm-agent");
  EXPECT_EQ(paths.work_dir, "/data/local/tmp/kvmfarm/work");
  EXPECT_EQ(paths.image_dir, "/data/local/tmp/kvmfarm/images");
}

TEST(AgentPathsTest, ElsewhereTheWorkDirIsTmpdir) {
  const std::string home = AgentHome("linux");
  setenv("TMPDIR", "/var/tmp/x", 1);
  AgentPaths paths = ResolveAgentPaths({}, /*android=*/false, home + "/farm-agent");
  EXPECT_EQ(paths.work_dir, "/var/tmp/x");
  EXPECT_EQ(paths.image_dir, "images");
  unsetenv("TMPDIR");
  paths = ResolveAgentPaths({}, /*android=*/false, home + "/farm-agent");
  EXPECT_EQ(paths.work_dir, "/tmp");
}

}  // namespace
}  // namespace kvmfarm
