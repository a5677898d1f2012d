#include "agent/vm/qemu_memory.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/probe/sysroot.h"
#include "common/status_macros.h"

namespace kvmfarm::vm {
namespace {

// A mapping's header line: "start-end perms offset dev inode [path]".
struct Mapping {
  bool anonymous = false;  // inode 0 and no path
  int64_t size_kb = 0;
  int64_t rss_kb = 0;
};

bool IsHeader(absl::string_view line) {
  const size_t dash = line.find('-');
  return dash != absl::string_view::npos && dash > 0 &&
         line.find_first_not_of("0123456789abcdef") == dash;
}

bool ParseHeader(absl::string_view line, Mapping* mapping) {
  const std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (words.size() < 5) return false;
  // Guest RAM is private, readable and writable, never executable (the TCG code
  // buffer, also anonymous, is rwx).
  mapping->anonymous = words[4] == "0" && words.size() == 5 && words[1] == "rw-p";
  return true;
}

// "Rss:   1234 kB" → 1234.
bool ParseKb(absl::string_view line, int64_t* kb) {
  const std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
  return words.size() == 3 && words[2] == "kB" && absl::SimpleAtoi(words[1], kb) && *kb >= 0;
}

}  // namespace

double QemuMemory::OverheadPercent() const {
  return 100.0 * static_cast<double>(own_kb()) / static_cast<double>(guest_ram_kb);
}

absl::StatusOr<QemuMemory> ParseQemuSmaps(absl::string_view smaps, int64_t guest_ram_kb) {
  if (guest_ram_kb <= 0) return absl::InvalidArgumentError("guest_ram_kb must be positive");
  std::vector<Mapping> mappings;
  for (absl::string_view line : absl::StrSplit(smaps, '\n', absl::SkipEmpty())) {
    if (IsHeader(line)) {
      mappings.emplace_back();
      if (!ParseHeader(line, &mappings.back())) {
        return absl::InvalidArgumentError(absl::StrCat("not a smaps mapping line: ", line));
      }
    } else if (absl::StartsWith(line, "Size:") || absl::StartsWith(line, "Rss:")) {
      int64_t kb = 0;
      if (mappings.empty() || !ParseKb(line, &kb)) {
        return absl::InvalidArgumentError(absl::StrCat("not a smaps size line: ", line));
      }
      (line[0] == 'S' ? mappings.back().size_kb : mappings.back().rss_kb) = kb;
    }
  }
  if (mappings.empty()) return absl::InvalidArgumentError("no mappings in smaps");
  QemuMemory memory;
  memory.guest_ram_kb = guest_ram_kb;
  bool found = false;
  for (const Mapping& mapping : mappings) {
    memory.rss_kb += mapping.rss_kb;
    // QEMU may round a block up by a few pages of alignment, never by more.
    if (!found && mapping.anonymous && mapping.size_kb >= guest_ram_kb &&
        mapping.size_kb <= guest_ram_kb + 4096) {
      memory.guest_ram_resident_kb = mapping.rss_kb;
      found = true;
    }
  }
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("no anonymous mapping of the guest's RAM size (", guest_ram_kb, " kB)"));
  }
  return memory;
}

absl::StatusOr<QemuMemory> ReadQemuMemory(pid_t pid, int64_t guest_ram_kb) {
  ASSIGN_OR_RETURN(const std::string smaps,
                   probe::Sysroot("/").ReadFile(absl::StrCat("/proc/", pid, "/smaps")));
  return ParseQemuSmaps(smaps, guest_ram_kb);
}

}  // namespace kvmfarm::vm
