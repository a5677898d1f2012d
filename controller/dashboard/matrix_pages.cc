// The compatibility matrix and the comparison of two sweeps.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/measurement.h"
#include "controller/dashboard/page_parts.h"
#include "controller/dashboard/pages.h"
#include "tools/farmctl/format.h"

namespace kvmfarm::dashboard {
namespace {

// "1520 (1490–1533, n=3)": the median, the spread and how many samples of how many
// asked for.
std::string Figure(const farm::v1::Aggregate& a) {
  if (!a.has_median()) return "<span class=\"muted\">–</span>";
  std::string out = absl::StrFormat("<b>%.4g</b>", a.median());
  if (a.has_min() && a.has_max()) {
    absl::StrAppendFormat(&out, " <span class=\"muted\">(%.4g–%.4g, n=%d", a.min(), a.max(),
                          a.samples());
    if (a.samples_requested() > a.samples()) absl::StrAppend(&out, " of ", a.samples_requested());
    out += ")</span>";
  }
  if (a.noisy()) {
    absl::StrAppendFormat(&out,
                          " <span class=\"badge s-warn\" title=\"the repetitions vary by %.1f %% "
                          "of their mean: repeat before trusting\">noisy %.0f%%</span>",
                          a.cv_percent(), a.cv_percent());
  }
  if (a.throttled_samples() > 0) {
    absl::StrAppendFormat(&out,
                          " <span class=\"badge s-warn\" title=\"%d of the %d repetitions ran "
                          "while the device throttled (a CPU's maximum frequency fell or a "
                          "thermal zone passed its trip point)\">throttled %d/%d</span>",
                          a.throttled_samples(), a.samples(), a.throttled_samples(), a.samples());
  }
  return out;
}

// A ratio with its 95 % interval when the cell has one.
std::string Ratio(bool has, double value, bool has_interval, const farm::v1::Interval& interval,
                  absl::string_view unit) {
  return has ? Esc(RatioText(value, has_interval ? &interval : nullptr, unit)) : "–";
}

std::string GroupByForm(const MatrixView& view) {
  std::string out =
      "<form class=\"inline\" method=\"get\" action=\"/matrix\"><label>Group by<select "
      "name=\"group_by\" id=\"group_by\">";
  for (farm::v1::GroupBy g :
       {farm::v1::GROUP_BY_DEVICE, farm::v1::GROUP_BY_MODEL, farm::v1::GROUP_BY_SOC}) {
    const std::string name = LowerEnumValueName(g);
    absl::StrAppend(&out, "<option value=\"", name, "\"", g == view.group_by ? " selected" : "",
                    ">", name, "</option>");
  }
  absl::StrAppend(&out, "</select></label><label>Labels<input name=\"selector\" value=\"",
                  Esc(view.selector), "\"></label><button>Show</button></form>");
  return out;
}

}  // namespace

std::string MatrixPage(const Frame& frame, const MatrixView& view) {
  const std::string query = absl::StrCat("group_by=", LowerEnumValueName(view.group_by),
                                         "&selector=", UrlEncode(view.selector));
  std::string body = absl::StrCat(
      "<h1>Compatibility matrix</h1>", GroupByForm(view), "<p>",
      view.group_by == farm::v1::GROUP_BY_DEVICE ? "Devices on this page: " : "Rows: ",
      view.matrix.rows_size(), " · download every row as ", Link("/matrix.csv?" + query, "CSV"),
      " · ", Link("/matrix.json?" + query, "JSON"), " (the rows of GetMatrix)</p>");
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::MatrixRow& row : view.matrix.rows()) {
    const std::string key = view.group_by == farm::v1::GROUP_BY_DEVICE && !row.is_fixture()
                                ? DeviceLink(row.key())
                                : Esc(row.key());
    const std::string name = row.is_fixture() ? key + " <span class=\"label\">fixture</span>" : key;
    if (row.cells().empty()) {
      rows.push_back({name, VerdictBadge(row.verdict()), "–", "", "", "", "", "", "", ""});
    }
    for (const farm::v1::MatrixCell& c : row.cells()) {
      rows.push_back(
          {name, VerdictBadge(row.verdict()), Esc(MetricLabel(c.metric(), c.parameters())),
           Esc(c.unit()), Figure(c.native()), Figure(c.kvm()), Figure(c.tcg()),
           Ratio(c.has_kvm_percent_of_native(), c.kvm_percent_of_native(),
                 c.has_kvm_percent_of_native_interval(), c.kvm_percent_of_native_interval(), "%"),
           Ratio(c.has_tcg_percent_of_native(), c.tcg_percent_of_native(),
                 c.has_tcg_percent_of_native_interval(), c.tcg_percent_of_native_interval(), "%"),
           Ratio(c.has_kvm_speedup_over_tcg(), c.kvm_speedup_over_tcg(),
                 c.has_kvm_speedup_over_tcg_interval(), c.kvm_speedup_over_tcg_interval(), "×")});
    }
  }
  body += Table({"ROW", "VERDICT", "METRIC", "UNIT", "NATIVE", "KVM", "TCG", "KVM % NATIVE",
                 "TCG % NATIVE", "KVM/TCG"},
                rows, "matrix");
  if (!view.next_page_token.empty()) {
    body += "<p>" +
            Link(absl::StrCat("/matrix?", query, "&page_token=", UrlEncode(view.next_page_token)),
                 "Next devices →") +
            "</p>";
  }
  return Layout(frame, body);
}

namespace {

std::string SweepChoice(absl::string_view name, absl::string_view chosen) {
  return absl::StrCat("<label>Sweep ", name, "<input name=\"", name, "\" id=\"", name,
                      "\" list=\"recent-sweeps\" value=\"", Esc(chosen), "\"></label>");
}

std::string ChangeCell(const farm::v1::MetricChange& c) {
  return c.has_change_percent() ? absl::StrFormat("%+.1f%%", c.change_percent()) : "–";
}

std::string Median(bool has, double value) { return has ? absl::StrFormat("%.4g", value) : "–"; }

}  // namespace

std::string ComparePage(const Frame& frame, const CompareView& view) {
  std::string body =
      "<h1>Compare two sweeps</h1><form class=\"inline\" method=\"get\" "
      "action=\"/compare\">";
  body += SweepChoice("a", view.sweep_a) + SweepChoice("b", view.sweep_b);
  body += "<button>Compare</button></form><datalist id=\"recent-sweeps\">";
  for (const farm::v1::Sweep& s : view.recent) {
    absl::StrAppend(&body, "<option value=\"", Esc(s.sweep_id()), "\">", Esc(When(s.created_at())),
                    "</option>");
  }
  body += "</datalist>";
  if (!view.comparison) return Layout(frame, body);
  const farm::v1::CompareSweepsResponse& cmp = *view.comparison;
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::VerdictChange& v : cmp.verdict_changes()) {
    rows.push_back({StateBadge(v.label()), DeviceLink(v.device_id()), "verdict", "",
                    VerdictBadge(v.verdict_a()), VerdictBadge(v.verdict_b()), "", ""});
  }
  // Regressions first, then improvements, then what didn't change.
  std::vector<const farm::v1::MetricChange*> changes;
  for (const farm::v1::MetricChange& c : cmp.changes()) changes.push_back(&c);
  auto rank = [](farm::v1::ChangeLabel l) {
    return l == farm::v1::CHANGE_LABEL_REGRESSION     ? 0
           : l == farm::v1::CHANGE_LABEL_IMPROVED     ? 1
           : l == farm::v1::CHANGE_LABEL_INCONCLUSIVE ? 2
                                                      : 3;
  };
  std::stable_sort(changes.begin(), changes.end(),
                   [&](auto* x, auto* y) { return rank(x->label()) < rank(y->label()); });
  for (const farm::v1::MetricChange* c : changes) {
    rows.push_back({StateBadge(c->label()), DeviceLink(c->device_id()),
                    Esc(MetricLabel(c->metric(), c->parameters())),
                    Esc(LowerEnumValueName(c->mode())), Median(c->has_median_a(), c->median_a()),
                    Median(c->has_median_b(), c->median_b()), ChangeCell(*c),
                    Esc(farmctl::ChangeEvidence(*c))});
  }
  body += Table({"CHANGE", "DEVICE", "METRIC", "MODE", "A", "B", "B VS A", "EVIDENCE"}, rows,
                "comparison");
  if (rows.empty()) body += "<p class=\"muted\">The two sweeps share no figure.</p>";
  return Layout(frame, body);
}

std::string RegressionsPage(const Frame& frame, const RegressionsView& view) {
  std::string body = absl::StrCat(
      "<h1>Regressions</h1><p>", view.open_only ? "Open ones · " : "All · ",
      view.open_only ? Link("/regressions", "show fixed ones too")
                     : Link("/regressions?open=1", "show only open ones"),
      ". A figure regresses when it is worse than its baseline's by the threshold and the "
      "Mann-Whitney U test says so; it is fixed by the first sweep back within noise.</p>");
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Regression& r : view.regressions.regressions()) {
    const bool verdict = r.kind() == farm::v1::REGRESSION_KIND_VERDICT;
    rows.push_back(
        {StateBadge(r.state()), DeviceLink(r.device_id()), Esc(farmctl::RegressionWhat(r)),
         verdict ? absl::StrCat(VerdictBadge(r.verdict_before()), " → ",
                                VerdictBadge(r.verdict_after()))
                 : Esc(farmctl::RegressionChange(r)),
         verdict ? "–" : SweepLink(r.baseline().sweep_id()), SweepLink(r.first_sweep_id()),
         SweepLink(r.state() == farm::v1::REGRESSION_STATE_FIXED ? r.fixed_sweep_id()
                                                                 : r.last_sweep_id()),
         Esc(When(r.opened_at()))});
  }
  body += Table(
      {"STATE", "DEVICE", "WHAT", "CHANGE (LATEST)", "BASELINE", "SINCE", "LAST/FIXED", "OPENED"},
      rows, "regressions");
  if (rows.empty()) body += "<p class=\"muted\">No regression.</p>";
  body += "<h2>Baselines</h2>";
  std::vector<std::vector<std::string>> baselines;
  for (const farm::v1::Baseline& b : view.baselines.baselines()) {
    baselines.push_back({Esc(LowerEnumValueName(b.scope())), Esc(b.key()), SweepLink(b.sweep_id()),
                         Esc(b.set_by()), Esc(When(b.set_at()))});
  }
  body += Table({"SCOPE", "KEY", "SWEEP", "SET BY", "SET AT"}, baselines, "baselines");
  if (baselines.empty()) {
    body +=
        "<p class=\"muted\">No baseline yet: <code>farmctl baseline set SWEEP --device ID"
        "</code> pins one.</p>";
  }
  return Layout(frame, body);
}

}  // namespace kvmfarm::dashboard
