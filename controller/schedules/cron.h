// -----------------------------------------------------------------------------
// File: cron.h
// -----------------------------------------------------------------------------
//
// A five-field cron expression, in UTC: minute (0-59), hour (0-23), day of month
// (1-31), month (1-12), day of week (0-7, 0 and 7 Sunday). Each field is `*`, a
// number, a range `a-b`, any of these with a step `/n`, or a comma-separated list
// of them. As in Vixie cron, when both day fields are restricted a day matching
// either runs. Names (JAN, MON) and macros (@daily) are not accepted: the error
// says so.
//
// Example:
//
//   ASSIGN_OR_RETURN(CronExpression nightly, CronExpression::Parse("0 3 * * 1-5"));
//   std::optional<absl::Time> next = nightly.NextAfter(absl::Now());  // 03:00 UTC, weekdays
#ifndef KVMFARM_CONTROLLER_SCHEDULES_CRON_H_
#define KVMFARM_CONTROLLER_SCHEDULES_CRON_H_

#include <bitset>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kvmfarm::schedules {

class CronExpression {
 public:
  // INVALID_ARGUMENT naming the field and what is wrong with it.
  static absl::StatusOr<CronExpression> Parse(absl::string_view text);

  // The first minute strictly after `after` that matches; none when no minute in
  // the next five years does (31 February).
  std::optional<absl::Time> NextAfter(absl::Time after) const;

 private:
  bool DayMatches(const absl::CivilDay& day) const;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;
  std::bitset<13> months_;
  std::bitset<7> days_of_week_;
  bool day_of_month_restricted_ = false;
  bool day_of_week_restricted_ = false;
};

}  // namespace kvmfarm::schedules

#endif  // KVMFARM_CONTROLLER_SCHEDULES_CRON_H_
