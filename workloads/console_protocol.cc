#include "workloads/console_protocol.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvmfarm::workloads {
namespace {

// "<marker> " at the start of `line`: consumes it.
bool ConsumeMarker(absl::string_view* line, absl::string_view marker) {
  if (!absl::StartsWith(*line, marker) || line->size() <= marker.size() ||
      (*line)[marker.size()] != ' ') {
    return false;
  }
  line->remove_prefix(marker.size() + 1);
  return true;
}

// The boot, ready and clocks markers' `key=value` fields. A malformed or negative value
// leaves its field at 0: SimpleAtod/SimpleAtoi leave their output unspecified on
// failure.
ConsoleEvent ParseFields(ConsoleEvent::Kind kind, absl::string_view fields) {
  ConsoleEvent event;
  event.kind = kind;
  for (absl::string_view field : absl::StrSplit(fields, ' ')) {
    double uptime = 0;
    int64_t number = 0;
    if (absl::ConsumePrefix(&field, "uptime=") && absl::SimpleAtod(field, &uptime) && uptime >= 0) {
      event.uptime_seconds = uptime;
    } else if (absl::ConsumePrefix(&field, "mem_used_kb=") && absl::SimpleAtoi(field, &number) &&
               number >= 0) {
      event.mem_used_kb = number;
    } else if (absl::ConsumePrefix(&field, "clock_ns=") && absl::SimpleAtoi(field, &number) &&
               number >= 0) {
      event.clock_ns = number;
    } else if (absl::ConsumePrefix(&field, "counter_ns=") && absl::SimpleAtoi(field, &number) &&
               number >= 0) {
      event.counter_ns = number;
    }
  }
  return event;
}

ConsoleEvent ParseProgress(absl::string_view json) {
  ConsoleEvent event;
  event.kind = google::protobuf::util::JsonStringToMessage(std::string(json), &event.progress).ok()
                   ? ConsoleEvent::kProgress
                   : ConsoleEvent::kMalformedProgress;
  return event;
}

ConsoleEvent WithText(ConsoleEvent::Kind kind, absl::string_view text) {
  ConsoleEvent event;
  event.kind = kind;
  event.text = std::string(text);
  return event;
}

}  // namespace

std::vector<std::string> GuestInitMarkers() {
  return {kBootedMarker,      kReadyMarker,     kDiskMarker,
          kResultBeginMarker, kResultEndMarker, kEchoMarker};
}

std::vector<std::string> AllMarkers() {
  std::vector<std::string> all = GuestInitMarkers();
  all.push_back(kProgressMarker);
  all.push_back(kClocksMarker);
  return all;
}

std::string FormatProgressLine(const farm::v1::Progress& progress) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(progress, &json).ok()) return "";
  return absl::StrCat(kProgressMarker, " ", json);
}

ConsoleEvent ParseConsoleLine(absl::string_view line) {
  if (line == kResultBeginMarker) return WithText(ConsoleEvent::kResultBegin, "");
  if (line == kResultEndMarker) return WithText(ConsoleEvent::kResultEnd, "");
  absl::string_view rest = line;
  if (ConsumeMarker(&rest, kEchoMarker)) return WithText(ConsoleEvent::kEcho, rest);
  if (ConsumeMarker(&rest, kProgressMarker)) return ParseProgress(rest);
  if (ConsumeMarker(&rest, kDiskMarker)) return WithText(ConsoleEvent::kDisk, rest);
  for (const auto& [marker, kind] : {std::pair{kBootedMarker, ConsoleEvent::kBooted},
                                     std::pair{kReadyMarker, ConsoleEvent::kReady},
                                     std::pair{kClocksMarker, ConsoleEvent::kClocks}}) {
    const std::string prefix = absl::StrCat(marker, " ");
    const size_t at = line.find(prefix);
    if (at != absl::string_view::npos) return ParseFields(kind, line.substr(at + prefix.size()));
  }
  return WithText(ConsoleEvent::kText, line);
}

}  // namespace kvmfarm::workloads
