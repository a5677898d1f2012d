// -----------------------------------------------------------------------------
// File: page_parts.h
// -----------------------------------------------------------------------------
//
// The pieces every dashboard page is made of: the frame around the content,
// badges, links, tables, progress bars and times. Internal to the dashboard.
#ifndef KVMFARM_CONTROLLER_DASHBOARD_PAGE_PARTS_H_
#define KVMFARM_CONTROLLER_DASHBOARD_PAGE_PARTS_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/html/html.h"
#include "common/proto_enum.h"
#include "controller/dashboard/pages.h"
#include "farm/v1/controller.pb.h"

namespace kvmfarm::dashboard {

// HTML-escaped text.
inline std::string Esc(absl::string_view text) { return html::HtmlEscape(text); }

absl::Time ToTime(const google::protobuf::Timestamp& t);
// "2026-11-30 18:20:01 UTC"; "" for an unset time.
std::string When(const google::protobuf::Timestamp& t);
// "12 s ago", "3 min ago", "2 h ago", "5 d ago"; "never" for an unset time.
std::string Ago(const google::protobuf::Timestamp& t, absl::Time now);
// "1h 05m", "4m 02s", "12s".
std::string Duration(const google::protobuf::Duration& d);

// A coloured badge: css class `css`, escaped `text`, optional element id.
std::string Badge(absl::string_view css, absl::string_view text, absl::string_view id = "");
std::string VerdictBadge(farm::v1::Verdict verdict);
// A state's badge (class "s-<lower name>").
template <typename Enum>
std::string StateBadge(Enum state, absl::string_view id = "") {
  const std::string name = LowerEnumValueName(state);
  return Badge("s-" + name, name, id);
}

std::string Link(absl::string_view href, absl::string_view text);
std::string DeviceLink(absl::string_view id);
std::string SweepLink(absl::string_view id);
// The hidden field every form posts, bound to who is signed in.
std::string CsrfField(const Frame& frame);
// `done` of `total`, with the count written on it; `id` for the live script.
std::string ProgressBar(absl::string_view id, int64_t done, int64_t total);
// Cells are HTML already (escape text with Esc).
std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, absl::string_view id = "");

int64_t Finished(const farm::v1::SweepCounts& counts);
bool TaskDone(farm::v1::TaskState state);

// The whole page: the header with navigation and who is signed in, `body`, the
// replicas line, the stylesheet and the live script.
std::string Layout(const Frame& frame, absl::string_view body);

}  // namespace kvmfarm::dashboard

#endif  // KVMFARM_CONTROLLER_DASHBOARD_PAGE_PARTS_H_
