// What synchronous=FULL costs a commit, against NORMAL, on this machine's disk (a
// benchmark, not a test):
//   bazel run -c opt //controller/store:sync_benchmark [-- --writes=1000 --rounds=3 --dir=.]
// Times --writes small committed writes (the INSERT that Store::AppendDeviceEvent
// runs, one transaction each) on a kvmfarm database in WAL mode, with each setting
// in turn, --rounds times alternating so both see the same disk; then the same
// writes through SqliteStore::AppendDeviceEvent itself (FULL, as the controller
// runs). Put --dir on the disk the controller's database lives on: on tmpfs an
// fsync costs nothing and the comparison means nothing.
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/flags.h"
#include "controller/store/sqlite.h"
#include "controller/store/sqlite_store.h"
#include "farm/v1/controller.pb.h"

ABSL_FLAG(int32_t, writes, 1000, "Committed writes timed per setting and round.");
ABSL_FLAG(int32_t, rounds, 3, "Rounds, each timing NORMAL then FULL.");
ABSL_FLAG(std::string, dir, ".",
          "Where the scratch database goes (relative to where bazel run was started).");

namespace kvmfarm::store {
namespace {

// The filesystem `dir` is on, by name where it's a common one.
std::string FileSystem(const std::string& dir) {
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53:
      return "ext2/3/4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs (fsync is free: not a disk)";
    case 0x794C7630:
      return "overlayfs";
    default:
      return absl::StrCat("f_type 0x", absl::Hex(fs.f_type));
  }
}

// A device event as the fleet writes one: ~100 bytes.
std::string EventBytes() {
  farm::v1::DeviceEvent event;
  event.set_description("offline: no heartbeat for 30s (3 intervals)");
  event.mutable_time()->set_seconds(1700000000);
  return event.SerializeAsString();
}

// Seconds for `writes` autocommitted INSERTs into device_events with PRAGMA
// synchronous=`setting`, or a negative number after an error (printed).
double TimeRawWrites(const std::string& path, const std::string& setting, int writes) {
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(path);
  absl::Status status = db.status();
  if (status.ok()) {
    status = (*db)->Execute(absl::StrCat("PRAGMA journal_mode=WAL; PRAGMA synchronous=", setting));
  }
  const std::string blob = EventBytes();
  const absl::Time start = absl::Now();
  for (int i = 0; status.ok() && i < writes; ++i) {
    absl::StatusOr<Statement> insert =
        (*db)->Prepare("INSERT INTO device_events (device_id, time_ns, proto) VALUES (?, ?, ?)");
    status = insert.status();
    if (status.ok()) status = insert->Bind(1, "bench").Bind(2, int64_t{i}).BindBlob(3, blob).Run();
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!status.ok()) {
    std::fprintf(stderr, "synchronous=%s: %s\n", setting.c_str(), status.ToString().c_str());
    return -1;
  }
  return seconds;
}

// The same through the store (its own connection: synchronous=FULL).
double TimeStoreWrites(const std::string& path, int writes) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  absl::Status status = store.status();
  farm::v1::DeviceEvent event;
  event.ParseFromString(EventBytes());
  const absl::Time start = absl::Now();
  for (int i = 0; status.ok() && i < writes; ++i) {
    status = (*store)->AppendDeviceEvent("bench", event);
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!status.ok()) {
    std::fprintf(stderr, "store: %s\n", status.ToString().c_str());
    return -1;
  }
  return seconds;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

int Run() {
  const int writes = absl::GetFlag(FLAGS_writes);
  const int rounds = absl::GetFlag(FLAGS_rounds);
  const std::string dir = FromUserDir(absl::GetFlag(FLAGS_dir));
  const std::string path = absl::StrCat(dir, "/kvmfarm-sync-benchmark-", getpid(), ".db");
  RemoveSqliteDatabase(path);
  {
    absl::StatusOr<std::unique_ptr<SqliteStore>> created = SqliteStore::Open(path);
    if (!created.ok()) {
      std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("%d committed writes (device_events INSERT, one transaction each), WAL, on %s (%s)\n",
              writes, dir.c_str(), FileSystem(dir).c_str());
  std::vector<double> normal, full, store;
  for (int round = 1; round <= rounds; ++round) {
    normal.push_back(TimeRawWrites(path, "NORMAL", writes));
    full.push_back(TimeRawWrites(path, "FULL", writes));
    store.push_back(TimeStoreWrites(path, writes));
    std::printf("round %d: NORMAL %.3f s, FULL %.3f s, SqliteStore::AppendDeviceEvent %.3f s\n",
                round, normal.back(), full.back(), store.back());
  }
  const double n = Median(normal), f = Median(full), s = Median(store);
  std::printf(
      "median of %d rounds: NORMAL %.1f ms (%.0f us a commit), FULL %.1f ms (%.0f us a commit, "
      "%.1fx), through the store (FULL) %.1f ms (%.0f us a commit)\n",
      rounds, n * 1e3, n * 1e6 / writes, f * 1e3, f * 1e6 / writes, n > 0 ? f / n : 0, s * 1e3,
      s * 1e6 / writes);
  RemoveSqliteDatabase(path);
  return 0;
}

}  // namespace
}  // namespace kvmfarm::store

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("the cost of synchronous=FULL against NORMAL, per commit");
  kvmfarm::ParseFlagsOnly(argc, argv, "sync_benchmark");
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return kvmfarm::store::Run();
}
