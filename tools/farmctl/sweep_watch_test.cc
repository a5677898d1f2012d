#include "tools/farmctl/sweep_watch.h"

#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmfarm::farmctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

farm::v1::WatchSweepResponse SweepEvent(farm::v1::SweepState state) {
  farm::v1::WatchSweepResponse event;
  event.mutable_sweep()->set_sweep_id("s-1");
  event.mutable_sweep()->set_state(state);
  return event;
}

farm::v1::WatchSweepResponse TaskEvent(farm::v1::TaskState state, const std::string& status) {
  farm::v1::WatchSweepResponse event;
  farm::v1::Task* task = event.mutable_task();
  task->set_task_id("s-1/t0");
  task->set_device_id("pixel-8");
  task->set_state(state);
  task->set_status(status);
  return event;
}

TEST(SweepWatchPrinterTest, PlainLinesForSummariesAndTaskChanges) {
  std::ostringstream out;
  SweepWatchPrinter printer(out, /*terminal=*/false);
  const absl::Time now = absl::Now();
  printer.Print(SweepEvent(farm::v1::SWEEP_STATE_RUNNING), now, 0);
  printer.Print(TaskEvent(farm::v1::TASK_STATE_RUNNING, "measuring"), now, 0);
  printer.Print(TaskEvent(farm::v1::TASK_STATE_RUNNING, "still measuring"), now, 0);
  printer.Print(TaskEvent(farm::v1::TASK_STATE_SUCCEEDED, "result stored"), now, 0);
  printer.Print(SweepEvent(farm::v1::SWEEP_STATE_SUCCEEDED), now, 0);
  printer.Finish();
  EXPECT_EQ(out.str(),
            "s-1  running  0/0 done, 0 running, 0 waiting, 0 failed\n"
            "  s-1/t0  pixel-8  measuring\n"
            "  s-1/t0  pixel-8  result stored\n"
            "s-1  succeeded  0/0 done, 0 running, 0 waiting, 0 failed\n");
  EXPECT_EQ(printer.last().state(), farm::v1::SWEEP_STATE_SUCCEEDED);
}

TEST(SweepWatchPrinterTest, ProgressIsAlwaysPrinted) {
  std::ostringstream out;
  SweepWatchPrinter printer(out, /*terminal=*/false);
  farm::v1::WatchSweepResponse event = TaskEvent(farm::v1::TASK_STATE_RUNNING, "measuring");
  event.mutable_task()->mutable_progress()->set_message("crypto 1/3");
  printer.Print(event, absl::Now(), 0);
  event.mutable_task()->mutable_progress()->set_message("crypto 2/3");
  printer.Print(event, absl::Now(), 0);
  EXPECT_THAT(out.str(), HasSubstr("crypto 1/3"));
  EXPECT_THAT(out.str(), HasSubstr("crypto 2/3"));
}

TEST(SweepWatchPrinterTest, TerminalRedrawsInPlaceAndEndsWithTheSummary) {
  std::ostringstream out;
  SweepWatchPrinter printer(out, /*terminal=*/true);
  const absl::Time now = absl::Now();
  printer.Print(SweepEvent(farm::v1::SWEEP_STATE_RUNNING), now, 20);
  EXPECT_THAT(out.str(), Not(HasSubstr("\x1b[1A")));
  printer.Print(TaskEvent(farm::v1::TASK_STATE_RUNNING, "measuring"), now, 20);
  EXPECT_THAT(out.str(), HasSubstr("A\x1b[2K"));  // back up over the lines drawn
  for (absl::string_view line : absl::StrSplit(out.str(), '\n')) {
    if (absl::StartsWith(line, "\x1b[2K")) {
      EXPECT_LE(line.size(), 4 + 19) << line;
    }
  }
  printer.Print(SweepEvent(farm::v1::SWEEP_STATE_FAILED), now, 20);
  printer.Finish();
  EXPECT_THAT(out.str(), HasSubstr("s-1  failed  "));
  EXPECT_EQ(printer.last().state(), farm::v1::SWEEP_STATE_FAILED);
}

}  // namespace
}  // namespace kvmfarm::farmctl
