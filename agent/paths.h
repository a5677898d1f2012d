// -----------------------------------------------------------------------------
// File: paths.h
// -----------------------------------------------------------------------------
//
// Where farm-agent keeps and finds its files. On a phone everything lives under one
// directory, /data/local/tmp/kvmfarm (the only place the shell user may write and
// execute): the agent, farm-workload, images/, work/ (temporary files, scratch
// disks, QMP sockets) and the log. Elsewhere the defaults are the Bazel layout and
// $TMPDIR.
//
// Example:
//
//   AgentPaths paths = ResolveAgentPaths(flags, RunningOnAndroid(), "/proc/self/exe");
//   options.work_dir = paths.work_dir;
#ifndef KVMFARM_AGENT_PATHS_H_
#define KVMFARM_AGENT_PATHS_H_

#include <string>

namespace kvmfarm {

// The phone's working directory (tools/deploy pushes everything there).
inline constexpr char kAndroidHome[] = "/data/local/tmp/kvmfarm";

// What the operator gave (empty = default).
struct PathFlags {
  std::string work_dir;
  std::string image_dir;
  std::string farm_workload;
};

struct AgentPaths {
  // Temporary files a job writes: io's file, guest scratch disks, QMP sockets.
  std::string work_dir;
  // Guest images; the agent boots nothing from anywhere else.
  std::string image_dir;
  // farm-workload for native benchmarks; "" when none was found.
  std::string farm_workload;
};

// True on Android: /system/bin/getprop exists or $ANDROID_ROOT is set.
bool RunningOnAndroid();

// Resolves each path: the flag when given; else beside the agent binary `exe`
// (a device's working directory), its Bazel runfiles, or bazel-bin (images from
// bazel-bin before the runfiles, whose links ResolveImage refuses); else, on
// Android, under kAndroidHome; else $TMPDIR or /tmp for work_dir, "images" for
// image_dir, and PATH for farm-workload.
AgentPaths ResolveAgentPaths(const PathFlags& flags, bool android, const std::string& exe);

}  // namespace kvmfarm

#endif  // KVMFARM_AGENT_PATHS_H_
