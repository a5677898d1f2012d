#include "controller/dashboard/page_parts.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvmfarm::dashboard {

using google::protobuf::util::TimeUtil;

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(t));
}

std::string When(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", ToTime(t), absl::UTCTimeZone());
}

// "12 s ago", "3 min ago", "2 h ago", "5 d ago"; "never" for an unset time.
std::string Ago(const google::protobuf::Timestamp& t, absl::Time now) {
  if (t.seconds() == 0 && t.nanos() == 0) return "never";
  const int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(now - ToTime(t)));
  if (s < 120) return absl::StrCat(s, " s ago");
  if (s < 7200) return absl::StrCat(s / 60, " min ago");
  if (s < 172800) return absl::StrCat(s / 3600, " h ago");
  return absl::StrCat(s / 86400, " d ago");
}

std::string Duration(const google::protobuf::Duration& d) {
  const int64_t s = d.seconds();
  if (s >= 3600) return absl::StrFormat("%dh %02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  return absl::StrCat(s, "s");
}

std::string Badge(absl::string_view css, absl::string_view text, absl::string_view id) {
  return absl::StrCat("<span", id.empty() ? "" : absl::StrCat(" id=\"", Esc(id), "\""),
                      " class=\"badge ", css, "\">", Esc(text), "</span>");
}

std::string VerdictBadge(farm::v1::Verdict verdict) {
  const std::string name = LowerEnumValueName(verdict);
  return Badge("v-" + name, name);
}

std::string Link(absl::string_view href, absl::string_view text) {
  return absl::StrCat("<a href=\"", Esc(href), "\">", Esc(text), "</a>");
}

std::string DeviceLink(absl::string_view id) { return Link("/devices/" + UrlEncode(id), id); }
std::string SweepLink(absl::string_view id) { return Link("/sweeps/" + UrlEncode(id), id); }

std::string CsrfField(const Frame& frame) {
  return absl::StrCat("<input type=\"hidden\" name=\"csrf\" value=\"", Esc(frame.csrf), "\">");
}

// A progress bar: `done` of `total`, with the count written on it.
std::string ProgressBar(absl::string_view id, int64_t done, int64_t total) {
  const int64_t percent = total > 0 ? 100 * done / total : 0;
  return absl::StrCat("<div class=\"bar\" id=\"", Esc(id), "\"><span style=\"width:", percent,
                      "%\"></span><em>", done, " / ", total, " (", percent, "%)</em></div>");
}

std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, absl::string_view id) {
  std::string out = absl::StrCat("<div class=\"scroll\"><table",
                                 id.empty() ? "" : absl::StrCat(" id=\"", id, "\""), "><tr>");
  for (const std::string& h : header) absl::StrAppend(&out, "<th>", h, "</th>");
  out += "</tr>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const std::string& cell : row) absl::StrAppend(&out, "<td>", cell, "</td>");
    out += "</tr>\n";
  }
  return out + "</table></div>\n";
}

int64_t Finished(const farm::v1::SweepCounts& c) {
  return c.succeeded() + c.failed() + c.cancelled();
}

bool TaskDone(farm::v1::TaskState state) {
  return state == farm::v1::TASK_STATE_SUCCEEDED || state == farm::v1::TASK_STATE_FAILED ||
         state == farm::v1::TASK_STATE_CANCELLED;
}

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

std::string Layout(const Frame& frame, absl::string_view body) {
  std::string nav;
  for (const auto& [section, label] :
       std::vector<std::pair<std::string, std::string>>{{"fleet", "Fleet"},
                                                        {"sweeps", "Sweeps"},
                                                        {"matrix", "Matrix"},
                                                        {"compare", "Compare"},
                                                        {"regressions", "Regressions"}}) {
    absl::StrAppend(&nav, "<a href=\"/", section, "\"",
                    frame.section == section ? " class=\"active\"" : "", ">", label, "</a>");
  }
  std::string who;
  if (!frame.who.empty()) {
    who = absl::StrCat("<span class=\"who\">", Esc(frame.who),
                       " <form method=\"post\" action=\"/signout\">", CsrfField(frame),
                       "<button>Sign out</button></form></span>");
  }
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>",
      Esc(frame.title),
      " · kvmfarm</title><link rel=\"stylesheet\" href=\"/static/dashboard.css\">"
      "</head><body>\n<header><a class=\"brand\" href=\"/fleet\">kvmfarm</a><nav>",
      nav, "</nav>", who, "</header>\n<main>\n", body, "\n<p class=\"muted\">", Esc(frame.replicas),
      "</p></main>\n<script src=\"/static/live.js\" defer></script></body></html>\n");
}

}  // namespace kvmfarm::dashboard
