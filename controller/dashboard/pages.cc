#include "controller/dashboard/pages.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/html/matrix_charts.h"
#include "common/html/svg_chart.h"
#include "common/measurement.h"
#include "common/proto_enum.h"
#include "common/proto_time.h"
#include "controller/dashboard/page_parts.h"
#include "controller/fleet/reservation.h"

namespace kvmfarm::dashboard {

std::string SignInPage(absl::string_view message, absl::string_view next) {
  return absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>Sign in · kvmfarm</title><link rel=\"stylesheet\" href=\"/static/dashboard.css\">"
      "</head><body><header><span class=\"brand\">kvmfarm</span></header><main>"
      "<div class=\"signin panel\"><h1>Sign in</h1>",
      message.empty()
          ? ""
          : absl::StrCat("<p class=\"error\" id=\"signin-error\">", Esc(message), "</p>"),
      "<form method=\"post\" action=\"/signin\"><p><label>Access token<br>"
      "<input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"current-password\" "
      "required>"
      "</label></p><input type=\"hidden\" name=\"next\" value=\"",
      Esc(next),
      "\"><p><button class=\"primary\" id=\"signin\">Sign in</button></p></form>"
      "<p class=\"muted\">Use the token your lab admin granted you in the controller's access "
      "file (the one farmctl reads from --token_file), or open this page with an operator "
      "certificate.</p></div></main></body></html>\n");
}

std::string ErrorPage(const Frame& frame, int status, absl::string_view message) {
  return Layout(frame,
                absl::StrCat("<h1>", status, "</h1><p class=\"error\" id=\"error\">", Esc(message),
                             "</p><p>", status == 401 ? "<a href=\"/signin\">Sign in</a> · " : "",
                             "<a href=\"/fleet\">Back to the fleet</a></p>"));
}

namespace {

std::string CountChips(const std::string& title, const std::map<std::string, int64_t>& counts,
                       absl::string_view css_prefix) {
  std::string out = absl::StrCat("<div class=\"counts\" id=\"counts-", Esc(title), "\">");
  for (const auto& [name, count] : counts) {
    absl::StrAppend(&out, "<span class=\"count\"><b>", count, "</b>",
                    Badge(absl::StrCat(css_prefix, name), name), "</span>");
  }
  return out + "</div>";
}

std::string Labels(const farm::v1::Device& device) {
  std::string out;
  for (const farm::v1::Label& label : device.labels()) {
    absl::StrAppend(&out, "<span class=\"label\">", Esc(label.key()), "=", Esc(label.value()),
                    "</span>");
  }
  return out;
}

std::string ReplicasTable(const farm::v1::ListControllersResponse& controllers, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::ControllerReplica& r : controllers.replicas()) {
    rows.push_back({Esc(r.name()), Esc(r.address()), r.leader() ? Badge("s-good", "leader") : "",
                    Esc(Ago(r.last_seen(), now))});
  }
  return absl::StrCat("<h2>Controllers</h2><p>Leader: <b id=\"leader\">",
                      Esc(controllers.leader().empty() ? "none" : controllers.leader()),
                      "</b>, epoch ", controllers.epoch(), "</p>",
                      Table({"REPLICA", "ADDRESS", "", "LAST SEEN"}, rows, "replicas"));
}

}  // namespace

std::string FleetPage(const Frame& frame, const FleetView& view) {
  // The counts are of the whole fleet (Fleet::Census, no copies), whatever the filter.
  std::string body =
      "<h1>Fleet</h1><p class=\"muted\">The whole fleet by verdict and by state:</p>";
  body += CountChips("verdict", view.census.by_verdict, "v-");
  body += CountChips("state", view.census.by_operational_state, "s-");
  absl::StrAppend(&body,
                  "<form class=\"inline\" method=\"get\" action=\"/fleet\"><label>Labels "
                  "(key=value,key=value)<input name=\"selector\" id=\"selector\" value=\"",
                  Esc(view.selector),
                  "\" placeholder=\"soc_vendor=qualcomm\"></label><button>Filter</button></form>");
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Device& d : view.devices) {
    const farm::v1::DeviceIdentity& id = d.identity();
    rows.push_back({DeviceLink(d.device_id()), VerdictBadge(d.capability().verdict()),
                    Esc(LowerEnumValueName(d.capability().hypervisor_kind())), Esc(id.model()),
                    Esc(id.soc_marketing_name().empty() ? id.soc_model() : id.soc_marketing_name()),
                    StateBadge(d.state().operational()),
                    absl::StrCat(StateBadge(d.state().health()),
                                 fleet::Reserved(d, frame.now)
                                     ? absl::StrCat(" <span class=\"muted\">reserved by ",
                                                    Esc(d.reservation().holder()), "</span>")
                                     : ""),
                    Esc(Ago(d.last_seen(), frame.now)), Labels(d)});
  }
  body += Table(
      {"DEVICE", "VERDICT", "HYPERVISOR", "MODEL", "SOC", "STATE", "HEALTH", "LAST SEEN", "LABELS"},
      rows, "devices");
  if (rows.empty()) body += "<p class=\"muted\">No device matches.</p>";
  if (!view.next_page_token.empty()) {
    body += "<p>" +
            Link(absl::StrCat("/fleet?selector=", UrlEncode(view.selector),
                              "&page_token=", UrlEncode(view.next_page_token)),
                 "Next page →") +
            "</p>";
  }
  body += ReplicasTable(view.controllers, frame.now);
  return Layout(frame, body);
}

namespace {

std::string IdentitySection(const farm::v1::Device& device) {
  const farm::v1::DeviceIdentity& id = device.identity();
  std::string out = "<div class=\"panel\"><h2>Identity</h2><dl>";
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"Manufacturer", id.manufacturer()},
           {"Model", id.model()},
           {"SoC",
            absl::StrCat(id.soc_vendor(), " ", id.soc_model(), " ", id.soc_marketing_name())},
           {"CPU", absl::StrCat(id.cpu_arch_name(), ", ", id.cpu_cores(), " cores, ",
                                id.cpu_model_name())},
           {"Agent", absl::StrCat(device.agent().version(), " at ", device.agent_address())},
           {"Last seen", When(device.last_seen())}}) {
    absl::StrAppend(&out, "<dt>", Esc(name), "</dt><dd>", Esc(value), "</dd>");
  }
  return out + "</dl></div>";
}

std::string StateSection(const Frame& frame, const farm::v1::Device& device) {
  const farm::v1::DeviceState& state = device.state();
  std::string out = absl::StrCat(
      "<div class=\"panel\"><h2>State</h2><p>", StateBadge(state.operational(), "operational"), " ",
      StateBadge(state.health(), "health"), " ", Esc(state.reason()),
      " <span class=\"muted\">since ", Esc(When(state.since())), "</span></p>");
  if (fleet::Reserved(device, frame.now)) {
    const farm::v1::Reservation& r = device.reservation();
    absl::StrAppend(&out,
                    "<p id=\"reservation\"><span class=\"badge s-warn\">reserved</span> by <b>",
                    Esc(r.holder()), "</b> until ", Esc(When(r.until())), ": ", Esc(r.reason()),
                    " <span class=\"muted\">(no sweep task reaches it until then)</span></p>");
  }
  if (frame.role < auth::Role::kAdmin) return out + "</div>";
  absl::StrAppend(&out, "<form class=\"inline\" method=\"post\" action=\"/devices/",
                  Esc(UrlEncode(device.device_id())), "/state\">", CsrfField(frame),
                  "<label>Health<select name=\"health\" id=\"health\" required>"
                  "<option value=\"\">choose</option>");
  // What an operator may set (quarantine is the fleet's, unknown where it starts).
  for (farm::v1::HealthState h : {farm::v1::HEALTH_STATE_GOOD, farm::v1::HEALTH_STATE_MAINTENANCE,
                                  farm::v1::HEALTH_STATE_RETIRED}) {
    const std::string name = LowerEnumValueName(h);
    absl::StrAppend(&out, "<option value=\"", name, "\">", name, "</option>");
  }
  absl::StrAppend(&out,
                  "</select></label><label>Reason<input name=\"reason\" id=\"reason\" "
                  "required maxlength=\"500\"></label><button class=\"primary\" "
                  "id=\"set-state\">Set state</button></form></div>");
  return out;
}

std::string CapabilitySection(const farm::v1::KvmCapability& capability) {
  std::string out = absl::StrCat("<div class=\"panel\"><h2>Capability</h2><p id=\"verdict\">",
                                 VerdictBadge(capability.verdict()), " hypervisor ",
                                 Esc(LowerEnumValueName(capability.hypervisor_kind())), "</p>");
  if (!capability.verdict_reasons().empty()) {
    out += "<ul id=\"reasons\">";
    for (const std::string& r : capability.verdict_reasons()) {
      absl::StrAppend(&out, "<li>", Esc(r), "</li>");
    }
    out += "</ul>";
  }
  if (!capability.recommendation().empty()) {
    absl::StrAppend(&out, "<p><b>Recommendation:</b> ", Esc(capability.recommendation()), "</p>");
  }
  for (const std::string& change : capability.to_change_verdict()) {
    absl::StrAppend(&out, "<p class=\"muted\">To change the verdict: ", Esc(change), "</p>");
  }
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Check& check : capability.checks()) {
    rows.push_back(
        {Esc(check.name()),
         Badge("s-" + LowerEnumValueName(check.outcome()), LowerEnumValueName(check.outcome())),
         Esc(check.detail()), Esc(check.source())});
  }
  if (!rows.empty()) out += Table({"CHECK", "OUTCOME", "EVIDENCE", "SOURCE"}, rows, "checks");
  return out + "</div>";
}

std::string HistorySection(const std::vector<farm::v1::DeviceEvent>& history) {
  std::string out = "<div class=\"panel\"><h2>History</h2><ol class=\"timeline\" id=\"history\">";
  for (const farm::v1::DeviceEvent& e : history) {
    absl::StrAppend(&out, "<li><span class=\"muted\">", Esc(When(e.time())), "</span> ",
                    Esc(e.description()));
    if (!e.sweep_id().empty()) absl::StrAppend(&out, " · sweep ", SweepLink(e.sweep_id()));
    if (!e.actor().empty()) absl::StrAppend(&out, " · by ", Esc(e.actor()));
    out += "</li>";
  }
  if (history.empty()) out += "<li class=\"muted\">Nothing yet.</li>";
  return out + "</ol></div>";
}

// Per metric, its native, KVM and TCG medians across the sweeps that measured it,
// oldest first.
std::string MetricCharts(const std::vector<store::StoredSummary>& newest_first) {
  struct Metric {
    std::string unit;
    std::vector<std::string> sweeps;                          // in order first measured
    std::map<std::string, std::map<std::string, double>> by;  // mode -> sweep -> median
  };
  std::map<std::string, Metric> metrics;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) {
    const farm::v1::Measurement& m = it->measurement;
    if (!m.has_median()) continue;
    Metric& metric = metrics[MetricLabel(m.metric(), m.parameters())];
    metric.unit = m.unit();
    if (std::find(metric.sweeps.begin(), metric.sweeps.end(), it->sweep_id) == metric.sweeps.end())
      metric.sweeps.push_back(it->sweep_id);
    metric.by[EnumValueName(m.mode())][it->sweep_id] = m.median();
  }
  if (metrics.empty()) return "";
  std::string out = "<h2>Figures across sweeps</h2><div class=\"charts\" id=\"charts\">";
  for (const auto& [label, metric] : metrics) {
    html::LineChartSpec spec{label, "sweep", metric.unit, metric.sweeps, {}};
    for (const char* mode : {"NATIVE", "KVM", "TCG"}) {
      auto figures = metric.by.find(mode);
      if (figures == metric.by.end()) continue;
      html::Series series{mode == std::string("NATIVE") ? "native" : mode, {}};
      for (const std::string& sweep : metric.sweeps) {
        auto value = figures->second.find(sweep);
        series.values.push_back(value == figures->second.end() ? std::nullopt
                                                               : std::optional(value->second));
      }
      spec.series.push_back(std::move(series));
    }
    absl::StrAppend(&out, "<div class=\"panel\">", html::LineChart(spec), "</div>");
  }
  return out + "</div>";
}

}  // namespace

std::string DevicePage(const Frame& frame, const DeviceView& view) {
  const farm::v1::Device& d = view.device;
  std::string body = absl::StrCat("<h1>", Esc(d.device_id()), " ",
                                  VerdictBadge(d.capability().verdict()), "</h1>");
  body += IdentitySection(d);
  body += StateSection(frame, d);
  body += CapabilitySection(d.capability());
  if (view.row) {
    absl::StrAppend(&body, "<h2>Latest figures</h2><div class=\"panel\" id=\"row-charts\">",
                    html::MatrixRowCharts(*view.row), "</div>");
  }
  body += MetricCharts(view.summaries);
  body += HistorySection(view.history);
  return Layout(frame, body);
}

}  // namespace kvmfarm::dashboard
