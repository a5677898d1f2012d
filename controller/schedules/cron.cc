#include "controller/schedules/cron.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace kvmfarm::schedules {
namespace {

struct FieldRange {
  const char* name;
  int low;
  int high;
};

constexpr FieldRange kFields[] = {{"minute", 0, 59},
                                  {"hour", 0, 23},
                                  {"day of month", 1, 31},
                                  {"month", 1, 12},
                                  {"day of week", 0, 7}};

absl::StatusOr<int> Number(absl::string_view text, const FieldRange& field) {
  int value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cron ", field.name, ": '", text, "' is not a number (names and macros are not accepted)"));
  }
  if (value < field.low || value > field.high) {
    return absl::InvalidArgumentError(
        absl::StrCat("cron ", field.name, ": ", value, " is outside ", field.low, "-", field.high));
  }
  return value;
}

// One comma-separated part: "*", "n", "a-b", each with an optional "/step".
absl::Status ParsePart(absl::string_view part, const FieldRange& field, std::vector<bool>* set) {
  int step = 1;
  const size_t slash = part.find('/');
  if (slash != absl::string_view::npos) {
    if (!absl::SimpleAtoi(part.substr(slash + 1), &step) || step <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cron ", field.name, ": step in '", part, "' must be a positive number"));
    }
    part = part.substr(0, slash);
  }
  int low = field.low, high = field.high;
  if (part != "*") {
    const size_t dash = part.find('-');
    ASSIGN_OR_RETURN(low, Number(part.substr(0, dash), field));
    high = low;
    if (dash != absl::string_view::npos) {
      ASSIGN_OR_RETURN(high, Number(part.substr(dash + 1), field));
    } else if (slash != absl::string_view::npos) {
      high = field.high;  // "5/15": from 5 on
    }
    if (high < low) {
      return absl::InvalidArgumentError(
          absl::StrCat("cron ", field.name, ": range '", part, "' runs backwards"));
    }
  }
  // 64 bits: a step as large as an int can't wrap past the field's end.
  for (int64_t v = low; v <= high; v += step) (*set)[v] = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<bool>> ParseField(absl::string_view text, const FieldRange& field) {
  std::vector<bool> set(field.high + 1, false);
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    if (part.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("cron ", field.name, ": empty list item"));
    }
    RETURN_IF_ERROR(ParsePart(part, field, &set));
  }
  return set;
}

template <size_t N>
void Fill(const std::vector<bool>& set, std::bitset<N>* bits) {
  for (size_t i = 0; i < set.size() && i < N; ++i) (*bits)[i] = set[i];
}

}  // namespace

absl::StatusOr<CronExpression> CronExpression::Parse(absl::string_view text) {
  const std::vector<absl::string_view> fields =
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (fields.size() != 5) {
    return absl::InvalidArgumentError(
        absl::StrCat("cron '", text, "' has ", fields.size(),
                     " fields; give five: minute hour day-of-month month day-of-week (UTC)"));
  }
  std::vector<std::vector<bool>> sets;
  for (size_t i = 0; i < 5; ++i) {
    ASSIGN_OR_RETURN(std::vector<bool> set, ParseField(fields[i], kFields[i]));
    sets.push_back(std::move(set));
  }
  CronExpression cron;
  Fill(sets[0], &cron.minutes_);
  Fill(sets[1], &cron.hours_);
  Fill(sets[2], &cron.days_of_month_);
  Fill(sets[3], &cron.months_);
  Fill(sets[4], &cron.days_of_week_);
  if (sets[4][7]) cron.days_of_week_[0] = true;  // 7 is Sunday too
  // As Vixie cron: a day field starting with '*' ("*", "*/2") is unrestricted.
  cron.day_of_month_restricted_ = !absl::StartsWith(fields[2], "*");
  cron.day_of_week_restricted_ = !absl::StartsWith(fields[4], "*");
  return cron;
}

bool CronExpression::DayMatches(const absl::CivilDay& day) const {
  if (!months_[day.month()]) return false;
  const bool dom = days_of_month_[day.day()];
  // absl::Weekday counts from Monday = 0; cron from Sunday = 0.
  const int weekday = (static_cast<int>(absl::GetWeekday(day)) + 1) % 7;
  const bool dow = days_of_week_[weekday];
  if (day_of_month_restricted_ && day_of_week_restricted_) return dom || dow;
  return dom && dow;
}

std::optional<absl::Time> CronExpression::NextAfter(absl::Time after) const {
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilMinute start = absl::ToCivilMinute(after, utc) + 1;
  absl::CivilDay day(start);
  for (int days = 0; days < 5 * 366 + 1; ++days, ++day) {
    if (!DayMatches(day)) continue;
    for (int hour = 0; hour < 24; ++hour) {
      if (!hours_[hour]) continue;
      for (int minute = 0; minute < 60; ++minute) {
        if (!minutes_[minute]) continue;
        const absl::CivilMinute candidate(day.year(), day.month(), day.day(), hour, minute);
        if (candidate >= start) return absl::FromCivil(candidate, utc);
      }
    }
  }
  return std::nullopt;
}

}  // namespace kvmfarm::schedules
