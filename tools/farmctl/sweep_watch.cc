#include "tools/farmctl/sweep_watch.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <iostream>
#include <vector>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "tools/farmctl/format.h"

namespace kvmfarm::farmctl {
namespace {

size_t TerminalColumns() {
  struct winsize size {};
  return ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
}

}  // namespace

void SweepWatchPrinter::Print(const farm::v1::WatchSweepResponse& event, absl::Time now,
                              size_t columns) {
  if (event.has_sweep()) last_ = event.sweep();
  if (terminal_) {
    Redraw(event, now, columns);
  } else {
    PrintLine(event);
  }
}

void SweepWatchPrinter::Redraw(const farm::v1::WatchSweepResponse& event, absl::Time now,
                               size_t columns) {
  progress_.Update(event, now);
  const std::vector<std::string> lines = progress_.Render(30, now);
  if (drawn_lines_ > 0) out_ << "\x1b[" << drawn_lines_ << "A";  // back to the top
  for (const std::string& line : lines) {
    out_ << "\x1b[2K" << line.substr(0, columns - 1) << "\n";
  }
  out_ << std::flush;
  drawn_lines_ = lines.size();
}

void SweepWatchPrinter::PrintLine(const farm::v1::WatchSweepResponse& event) {
  if (event.has_sweep()) {
    out_ << SweepLine(last_) << std::endl;
  } else if (event.has_task()) {
    const farm::v1::Task& t = event.task();
    if (last_state_[t.task_id()] != t.state() || t.has_progress()) {
      out_ << "  " << t.task_id() << "  " << t.device_id() << "  "
           << (t.has_progress() ? t.progress().message() : t.status()) << std::endl;
      last_state_[t.task_id()] = t.state();
    }
  }
}

void SweepWatchPrinter::Finish() {
  if (terminal_) out_ << SweepLine(last_) << std::endl;
}

absl::StatusOr<farm::v1::SweepState> WatchSweep(const ControllerClient& controller,
                                                const std::string& sweep_id) {
  farm::v1::WatchSweepRequest request;
  request.set_sweep_id(sweep_id);
  const bool terminal = isatty(STDOUT_FILENO) == 1;
  SweepWatchPrinter printer(std::cout, terminal);
  const absl::Status status = controller.Stream(
      &ControllerStub::WatchSweep, request, [&](const farm::v1::WatchSweepResponse& event) {
        printer.Print(event, absl::Now(), terminal ? TerminalColumns() : 0);
      });
  RETURN_IF_ERROR(status);
  printer.Finish();
  return printer.last().state();
}

}  // namespace kvmfarm::farmctl
