// SoC clues: /sys/devices/soc0/{family,machine,soc_id} and ro.soc.model /
// ro.board.platform, one per line, looked up in the SoC table
// (agent/probe/soc_table.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "agent/probe/soc_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  lines.resize(4);
  kvmfarm::probe::LookUpSoc(lines[0], lines[1], lines[2], lines[3]);
  return 0;
}
