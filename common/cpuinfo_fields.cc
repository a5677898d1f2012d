#include "common/cpuinfo_fields.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvmfarm {

CpuinfoFields SplitCpuinfo(absl::string_view text) {
  CpuinfoFields fields;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    std::string key(absl::StripAsciiWhitespace(line.substr(0, colon)));
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (key.empty()) continue;
    if (key == "processor") {
      int id = 0;
      if (!absl::SimpleAtoi(value, &id)) continue;  // "Processor : AArch64 ..." (old arm)
      fields.processors.emplace_back();
    }
    if (fields.processors.empty() || key == "Hardware" || key == "Serial" || key == "Revision") {
      fields.global[key] = std::move(value);
    } else {
      fields.processors.back()[key] = std::move(value);
    }
  }
  return fields;
}

CpuinfoFields ReadCpuinfo(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return SplitCpuinfo(text.str());
}

std::string FirstProcessorField(const CpuinfoFields& cpuinfo, const std::string& key) {
  if (cpuinfo.processors.empty()) return "";
  auto it = cpuinfo.processors.front().find(key);
  return it == cpuinfo.processors.front().end() ? "" : it->second;
}

}  // namespace kvmfarm
