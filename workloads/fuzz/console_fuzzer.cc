// A guest's serial console as the agent reads it: each line through the FARM_*
// protocol, and the result JSON between FARM_RESULT_BEGIN/END parsed as the agent
// parses it (workloads/console_protocol.h, agent/vm/guest_workloads.cc).
#include <google/protobuf/util/json_util.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "farm/v1/agent.pb.h"
#include "workloads/console_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view console(reinterpret_cast<const char*>(data), size);
  bool in_result = false;
  for (absl::string_view line : absl::StrSplit(console, '\n')) {
    const kvmfarm::workloads::ConsoleEvent event = kvmfarm::workloads::ParseConsoleLine(line);
    if (event.kind == kvmfarm::workloads::ConsoleEvent::kResultBegin) {
      in_result = true;
    } else if (event.kind == kvmfarm::workloads::ConsoleEvent::kResultEnd) {
      in_result = false;
    } else if (in_result) {
      farm::v1::BenchmarkResult result;
      (void)google::protobuf::util::JsonStringToMessage(std::string(line), &result);
    }
  }
  return 0;
}
