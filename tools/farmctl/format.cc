#include "tools/farmctl/format.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/measurement.h"
#include "common/proto_enum.h"
#include "common/proto_time.h"
#include "controller/fleet/reservation.h"

namespace kvmfarm::farmctl {
namespace {

std::string Figure(const farm::v1::Aggregate& a, bool present) {
  if (!present || !a.has_median()) return "-";
  std::string s = absl::StrFormat("%.4g", a.median());
  if (a.samples() < a.samples_requested())
    absl::StrAppend(&s, " (", a.samples(), "/", a.samples_requested(), ")");
  if (a.noisy()) absl::StrAppendFormat(&s, " ~%.0f%%", a.cv_percent());  // noisy: its spread
  if (a.throttled_samples() > 0)
    absl::StrAppend(&s, " throttled ", a.throttled_samples(), "/", a.samples());
  return s;
}

// A ratio with its 95 % interval when the cell has one: "91.0% [89.2-92.8]".
std::string Ratio(bool has, double v, bool has_interval, const farm::v1::Interval& i,
                  absl::string_view unit) {
  return has ? RatioText(v, has_interval ? &i : nullptr, unit) : "-";
}

// A CSV field, quoted when it must be. Text a spreadsheet would run as a formula
// (=, +, -, @ first, and not a number; an agent names its model) is led by a quote.
std::string CsvField(const std::string& s) {
  double number;
  const bool formula = !s.empty() &&
                       absl::string_view("=+-@").find(s[0]) != absl::string_view::npos &&
                       !absl::SimpleAtod(s, &number);
  if (!formula && s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = formula ? "\"'" : "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string Table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      absl::StrAppend(&l, i ? "  " : "", cells[i]);
      if (i + 1 < cells.size()) l.append(width[i] - cells[i].size(), ' ');
    }
    absl::StrAppend(&out, l, "\n");
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

std::string DevicesTable(const std::vector<farm::v1::Device>& devices, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  std::map<std::string, int> versions;  // agent version -> devices
  for (const farm::v1::Device& d : devices) {
    const farm::v1::DeviceIdentity& id = d.identity();
    std::string health = LowerEnumValueName(d.state().health());
    if (fleet::Reserved(d, now))
      absl::StrAppend(&health, ", reserved by ", d.reservation().holder());
    const std::string agent = d.agent().version().empty() ? "-" : d.agent().version();
    if (!d.agent().version().empty()) ++versions[agent];
    rows.push_back(
        {d.device_id(), id.model().empty() ? "-" : id.model(),
         !id.soc_marketing_name().empty() ? id.soc_marketing_name()
         : !id.soc_model().empty()        ? id.soc_model()
                                          : "-",
         LowerEnumValueName(d.capability().hypervisor_kind()),
         LowerEnumValueName(d.capability().verdict()), LowerEnumValueName(d.state().operational()),
         health, agent,
         d.has_last_seen() ? google::protobuf::util::TimeUtil::ToString(d.last_seen()) : "never"});
  }
  std::string out = Table(
      {"ID", "MODEL", "SOC", "HYPERVISOR", "VERDICT", "STATE", "HEALTH", "AGENT", "LAST SEEN"},
      rows);
  if (versions.size() > 1) {
    std::vector<std::string> counts;
    for (const auto& [version, n] : versions) counts.push_back(absl::StrCat(version, " on ", n));
    absl::StrAppend(&out, "agent version skew: ", absl::StrJoin(counts, ", "), "\n");
  }
  return out;
}

std::string SchedulesTable(const farm::v1::ListSchedulesResponse& schedules) {
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Schedule& s : schedules.schedules()) {
    const std::string when =
        s.has_cron() ? absl::StrCat("cron ", s.cron())
                     : absl::StrCat("every ", absl::FormatDuration(FromProtoDuration(s.every())));
    rows.push_back({s.schedule_id(), s.spec().health_check() ? "health check" : "sweep", when,
                    google::protobuf::util::TimeUtil::ToString(s.next_run_at()),
                    absl::StrCat(s.runs()), s.last_outcome().empty() ? "-" : s.last_outcome()});
  }
  return Table({"SCHEDULE", "KIND", "WHEN", "NEXT RUN", "RUNS", "LAST"}, rows);
}

std::string SweepLine(const farm::v1::Sweep& s) {
  const farm::v1::SweepCounts& c = s.counts();
  return absl::StrCat(s.sweep_id(), "  ", LowerEnumValueName(s.state()), "  ", c.succeeded(), "/",
                      c.total(), " done, ", c.running(), " running, ", c.waiting() + c.pending(),
                      " waiting, ", c.failed(), " failed",
                      s.reason().empty() ? "" : absl::StrCat("  (", s.reason(), ")"));
}

MatrixTable MatrixAsTable(const farm::v1::GetMatrixResponse& matrix) {
  MatrixTable table;
  table.header = {"DEVICE", "VERDICT", "METRIC",       "UNIT",         "NATIVE",
                  "KVM",    "TCG",     "KVM % NATIVE", "TCG % NATIVE", "KVM/TCG"};
  for (const farm::v1::MatrixRow& row : matrix.rows()) {
    const std::string name = row.is_fixture() ? row.key() + " [fixture]" : row.key();
    const std::string verdict = LowerEnumValueName(row.verdict());
    if (row.cells().empty())
      table.rows.push_back({name, verdict, "-", "", "-", "-", "-", "-", "-", "-"});
    for (const farm::v1::MatrixCell& cell : row.cells()) {
      table.rows.push_back({name, verdict, MetricLabel(cell.metric(), cell.parameters()),
                            cell.unit(), Figure(cell.native(), cell.has_native()),
                            Figure(cell.kvm(), cell.has_kvm()), Figure(cell.tcg(), cell.has_tcg()),
                            Ratio(cell.has_kvm_percent_of_native(), cell.kvm_percent_of_native(),
                                  cell.has_kvm_percent_of_native_interval(),
                                  cell.kvm_percent_of_native_interval(), "%"),
                            Ratio(cell.has_tcg_percent_of_native(), cell.tcg_percent_of_native(),
                                  cell.has_tcg_percent_of_native_interval(),
                                  cell.tcg_percent_of_native_interval(), "%"),
                            Ratio(cell.has_kvm_speedup_over_tcg(), cell.kvm_speedup_over_tcg(),
                                  cell.has_kvm_speedup_over_tcg_interval(),
                                  cell.kvm_speedup_over_tcg_interval(), "x")});
    }
  }
  return table;
}

absl::StatusOr<std::string> FormatMatrix(const farm::v1::GetMatrixResponse& matrix,
                                         const std::string& format) {
  if (format == "json") {
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    if (!google::protobuf::util::MessageToJsonString(matrix, &json, options).ok()) {
      return absl::InternalError("cannot print the matrix as JSON");
    }
    return json;
  }
  const MatrixTable table = MatrixAsTable(matrix);
  const std::vector<std::string>& header = table.header;
  const std::vector<std::vector<std::string>>& rows = table.rows;
  if (format == "table") return Table(header, rows);
  if (format == "csv") {
    std::string out = absl::StrJoin(header, ",") + "\n";
    for (const auto& row : rows) {
      std::vector<std::string> fields;
      for (const std::string& f : row) fields.push_back(CsvField(f));
      absl::StrAppend(&out, absl::StrJoin(fields, ","), "\n");
    }
    return out;
  }
  if (format == "markdown") {
    std::string out = absl::StrCat("| ", absl::StrJoin(header, " | "), " |\n|");
    for (size_t i = 0; i < header.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& row : rows) absl::StrAppend(&out, "| ", absl::StrJoin(row, " | "), " |\n");
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--format '", format, "' is not one of table, markdown, csv, json"));
}

std::string ChangeEvidence(const farm::v1::MetricChange& change) {
  if (!change.has_p_value()) return "";
  std::string out = absl::StrFormat("p=%.2g", change.p_value());
  if (change.has_ratio_low() && change.has_ratio_high()) {
    absl::StrAppendFormat(&out, " B/A %.3g-%.3g", change.ratio_low(), change.ratio_high());
  }
  absl::StrAppendFormat(&out, " n=%d/%d", change.samples_a(), change.samples_b());
  if (!change.provenance_changes().empty()) {
    absl::StrAppend(&out, "; across ", change.provenance_changes());
  }
  return out;
}

std::string CompareTable(const farm::v1::CompareSweepsResponse& comparison) {
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::VerdictChange& v : comparison.verdict_changes()) {
    rows.push_back({LowerEnumValueName(v.label()), v.device_id(), "verdict", "",
                    LowerEnumValueName(v.verdict_a()), LowerEnumValueName(v.verdict_b()), "", ""});
  }
  for (const farm::v1::MetricChange& c : comparison.changes()) {
    rows.push_back({LowerEnumValueName(c.label()), c.device_id(),
                    MetricLabel(c.metric(), c.parameters()), LowerEnumValueName(c.mode()),
                    c.has_median_a() ? absl::StrFormat("%.4g", c.median_a()) : "-",
                    c.has_median_b() ? absl::StrFormat("%.4g", c.median_b()) : "-",
                    c.has_change_percent() ? absl::StrFormat("%+.1f%%", c.change_percent()) : "-",
                    ChangeEvidence(c)});
  }
  // Regressions first (the service orders metrics; verdict regressions join them).
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return (a[0] == "regression") > (b[0] == "regression");
  });
  return Table({"CHANGE", "DEVICE", "METRIC", "MODE", "A", "B", "DELTA", "EVIDENCE"}, rows);
}

std::string RegressionWhat(const farm::v1::Regression& r) {
  if (r.kind() == farm::v1::REGRESSION_KIND_VERDICT) return "verdict";
  const farm::v1::MetricChange& c = r.last_change();
  return absl::StrCat(MetricLabel(c.metric(), c.parameters()), " ", LowerEnumValueName(c.mode()));
}

std::string RegressionChange(const farm::v1::Regression& r) {
  if (r.kind() == farm::v1::REGRESSION_KIND_VERDICT) {
    return absl::StrCat(LowerEnumValueName(r.verdict_before()), " -> ",
                        LowerEnumValueName(r.verdict_after()));
  }
  return absl::StrFormat("%+.1f%% %s", r.last_change().change_percent(),
                         ChangeEvidence(r.last_change()));
}

std::string RegressionsTable(const farm::v1::ListRegressionsResponse& regressions) {
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Regression& r : regressions.regressions()) {
    const bool verdict = r.kind() == farm::v1::REGRESSION_KIND_VERDICT;
    rows.push_back(
        {LowerEnumValueName(r.state()), r.device_id(), RegressionWhat(r), RegressionChange(r),
         verdict ? "-" : r.baseline().sweep_id(), r.first_sweep_id(),
         r.state() == farm::v1::REGRESSION_STATE_FIXED ? r.fixed_sweep_id() : r.last_sweep_id()});
  }
  return Table({"STATE", "DEVICE", "WHAT", "CHANGE (LATEST)", "BASELINE", "SINCE", "LAST/FIXED"},
               rows);
}

std::string BaselinesTable(const farm::v1::ListBaselinesResponse& baselines) {
  std::vector<std::vector<std::string>> rows;
  for (const farm::v1::Baseline& b : baselines.baselines()) {
    rows.push_back({LowerEnumValueName(b.scope()), b.key(), b.sweep_id(), b.set_by(),
                    google::protobuf::util::TimeUtil::ToString(b.set_at())});
  }
  return Table({"SCOPE", "KEY", "SWEEP", "SET BY", "SET AT"}, rows);
}

}  // namespace kvmfarm::farmctl
