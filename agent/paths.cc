#include "agent/paths.h"

#include <sys/stat.h>

#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/subprocess.h"

namespace kvmfarm {
namespace {

// Candidate locations of a file shipped with farm-agent: beside it (a device's
// working directory), in its Bazel runfiles, in bazel-bin.
std::vector<std::string> BesideAgent(const std::string& exe, const std::string& beside,
                                     const std::string& runfile) {
  const std::string dir = exe.substr(0, exe.rfind('/'));
  return {dir + "/" + beside, exe + ".runfiles/kvmfarm/" + runfile, dir + "/../" + runfile};
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

}  // namespace

bool RunningOnAndroid() {
  struct stat st;
  return stat("/system/bin/getprop", &st) == 0 || !Env("ANDROID_ROOT").empty();
}

AgentPaths ResolveAgentPaths(const PathFlags& flags, bool android, const std::string& exe) {
  AgentPaths paths;
  const std::string tmpdir = Env("TMPDIR");
  paths.work_dir = !flags.work_dir.empty() ? flags.work_dir
                   : android               ? absl::StrCat(kAndroidHome, "/work")
                   : !tmpdir.empty()       ? tmpdir
                                           : "/tmp";

  paths.image_dir = flags.image_dir;
  // bazel-bin's real files before the runfiles' links: those lead out of the image
  // directory, and the agent refuses what resolves outside it (agent/vm/image.h).
  std::vector<std::string> image_dirs = BesideAgent(exe, "images", "guest_images/images");
  std::swap(image_dirs[1], image_dirs[2]);
  for (const std::string& candidate : image_dirs) {
    if (!paths.image_dir.empty()) break;
    if (IsDirectory(candidate)) paths.image_dir = candidate;
  }
  if (paths.image_dir.empty()) {
    paths.image_dir = android ? absl::StrCat(kAndroidHome, "/images") : "images";
  }

  paths.farm_workload = flags.farm_workload;
  for (const std::string& candidate :
       BesideAgent(exe, "farm-workload", "workloads/farm-workload")) {
    if (!paths.farm_workload.empty()) break;
    if (FindProgram(candidate, "").ok()) paths.farm_workload = candidate;
  }
  if (paths.farm_workload.empty() && android) {
    const std::string home = absl::StrCat(kAndroidHome, "/farm-workload");
    if (FindProgram(home, "").ok()) paths.farm_workload = home;
  }
  if (paths.farm_workload.empty()) {
    absl::StatusOr<std::string> found = FindProgram("farm-workload", Env("PATH"));
    if (found.ok()) paths.farm_workload = *found;
  }
  return paths;
}

}  // namespace kvmfarm
