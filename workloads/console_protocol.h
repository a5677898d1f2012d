// -----------------------------------------------------------------------------
// File: console_protocol.h
// -----------------------------------------------------------------------------
//
// The lines kvmfarm's guests and farm-workload print for the agent, and the one
// parser the agent reads them with. A guest's init (guest_images/init.sh, checked
// against this file by console_protocol_test) prints on the serial console:
//
//   FARM_BOOTED uptime=<s> mem_used_kb=<kB> clock_ns=<ns>
//                                             first act in user space (boot marker)
//   FARM_READY clock_ns=<ns>                  init is done preparing and hands over to
//                                             what the command line asked for
//   FARM_DISK <what>                          the io workload's scratch disk
//   FARM_RESULT_BEGIN                         then farm-workload's JSON result on
//   <farm.v1.BenchmarkResult JSON>            one line,
//   FARM_RESULT_END
//   FARM_ECHO <line>                          farm.run=echo: each console line back
//
// and farm-workload prints on stderr (natively, or on the console in a guest):
//
//   FARM_PROGRESS <farm.v1.Progress JSON>
//
// and, asked by init after the ready marker (`farm-workload --clocks`, on stdout):
//
//   FARM_CLOCKS counter_ns=<ns> clock_ns=<ns>  the CPU's counter since the guest's
//                                              first instruction, and clock_ns, at
//                                              one instant (guest_clock.h)
//
// clock_ns is the guest's monotonic clock (nanoseconds since the kernel started
// timekeeping, /proc/timer_list's "now at"), read by the guest as it prints: the
// boot stages are measured on it, so how fast the console carries the line does
// not count (agent/vm/boot_stages.h).
//
// Example:
//
//   std::fprintf(stderr, "%s\n", FormatProgressLine(progress).c_str());
//   ...
//   const ConsoleEvent event = ParseConsoleLine(line);
//   if (event.kind == ConsoleEvent::kProgress) Relay(event.progress);
#ifndef KVMFARM_WORKLOADS_CONSOLE_PROTOCOL_H_
#define KVMFARM_WORKLOADS_CONSOLE_PROTOCOL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "farm/v1/common.pb.h"

namespace kvmfarm::workloads {

inline constexpr char kBootedMarker[] = "FARM_BOOTED";
inline constexpr char kReadyMarker[] = "FARM_READY";
inline constexpr char kClocksMarker[] = "FARM_CLOCKS";
inline constexpr char kDiskMarker[] = "FARM_DISK";
inline constexpr char kResultBeginMarker[] = "FARM_RESULT_BEGIN";
inline constexpr char kResultEndMarker[] = "FARM_RESULT_END";
inline constexpr char kEchoMarker[] = "FARM_ECHO";
inline constexpr char kProgressMarker[] = "FARM_PROGRESS";

// The markers a guest's init prints, and all of them (with farm-workload's).
std::vector<std::string> GuestInitMarkers();
std::vector<std::string> AllMarkers();

// "FARM_PROGRESS <json>", without the newline.
std::string FormatProgressLine(const farm::v1::Progress& progress);

// One console or stderr line, understood.
struct ConsoleEvent {
  enum Kind {
    kText,               // not a protocol line: kernel output, a log line, the result JSON
    kBooted,             // uptime_seconds, mem_used_kb, clock_ns
    kReady,              // clock_ns
    kClocks,             // counter_ns, clock_ns
    kDisk,               // text: what the guest did with its scratch disk
    kResultBegin,        //
    kResultEnd,          //
    kEcho,               // text: the echoed line
    kProgress,           // progress
    kMalformedProgress,  // a FARM_PROGRESS line whose JSON does not parse
  };
  Kind kind = kText;
  double uptime_seconds = 0;
  int64_t mem_used_kb = 0;
  // 0 when the line has none (an image from before the boot stages) or a bad one.
  int64_t clock_ns = 0;
  int64_t counter_ns = 0;
  std::string text;
  farm::v1::Progress progress;
};

// The boot, ready and clocks markers count anywhere in a line (the kernel may print into the
// middle of it on the console); the others start the line, FARM_RESULT_BEGIN/END are the
// whole line. A trailing '\r' (the serial console's line end) is the caller's to
// strip.
ConsoleEvent ParseConsoleLine(absl::string_view line);

}  // namespace kvmfarm::workloads

#endif  // KVMFARM_WORKLOADS_CONSOLE_PROTOCOL_H_
