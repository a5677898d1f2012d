#include "tools/farmctl/report.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_enum.h"
#include "tools/farmctl/format.h"

namespace kvmfarm::farmctl {
namespace {

constexpr char kStyle[] = R"(<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:nth-child(-n+4),th{text-align:left}
.verdict{font-weight:bold;padding:2px 6px;border-radius:3px;background:#eee}
.verdict.ready{background:#c8ecc8}.verdict.fixture{background:#f3e6b3}
section{margin-bottom:2em}
</style>)";

struct Bar {
  std::string label;
  double value;
  std::string colour;
};

// Horizontal bars scaled to the largest value, each labelled with its value.
std::string BarChart(const std::string& title, const std::vector<Bar>& bars,
                     const std::string& unit) {
  constexpr int kLabelWidth = 230, kBarWidth = 360, kRowHeight = 18;
  double max_value = 0;
  for (const Bar& b : bars) max_value = std::max(max_value, b.value);
  if (max_value <= 0) max_value = 1;
  const int height = kRowHeight * static_cast<int>(bars.size()) + 24;
  std::string svg = absl::StrFormat(
      "<svg role=\"img\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">"
      "<title>%s</title><text x=\"0\" y=\"14\" font-size=\"13\" font-weight=\"bold\">%s</text>",
      kLabelWidth + kBarWidth + 90, height, kLabelWidth + kBarWidth + 90, height, HtmlEscape(title),
      HtmlEscape(title));
  int y = 22;
  for (const Bar& b : bars) {
    const double width = std::max(1.0, kBarWidth * b.value / max_value);
    absl::StrAppendFormat(&svg,
                          "<text x=\"0\" y=\"%d\" font-size=\"12\">%s</text>"
                          "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>"
                          "<text x=\"%.1f\" y=\"%d\" font-size=\"12\">%.4g %s</text>",
                          y + 13, HtmlEscape(b.label), kLabelWidth, y + 2, width, kRowHeight - 4,
                          b.colour, kLabelWidth + width + 4, y + 13, b.value, HtmlEscape(unit));
    y += kRowHeight;
  }
  return svg + "</svg>\n";
}

std::string RowSection(const farm::v1::MatrixRow& row) {
  const std::string verdict = EnumValueName(row.verdict());
  std::string html = absl::StrCat(
      "<section><h2>", HtmlEscape(row.key()),
      row.is_fixture() ? " <span class=\"verdict fixture\">fixture</span>" : "",
      "</h2><p><span class=\"verdict", row.verdict() == farm::v1::VERDICT_KVM_READY ? " ready" : "",
      "\">", HtmlEscape(verdict), "</span> ", HtmlEscape(row.identity().model()), " ",
      HtmlEscape(row.identity().soc_marketing_name()), "</p>");
  if (!row.verdict_reasons().empty()) {
    html += "<ul>";
    for (const std::string& reason : row.verdict_reasons()) {
      absl::StrAppend(&html, "<li>", HtmlEscape(reason), "</li>");
    }
    html += "</ul>";
  }
  if (!row.recommendation().empty()) {
    absl::StrAppend(&html, "<p><em>", HtmlEscape(row.recommendation()), "</em></p>");
  }
  // Workloads: native, KVM and TCG as % of native, so one scale fits every metric.
  std::vector<Bar> workload_bars, boot_bars;
  std::string boot_unit;
  for (const farm::v1::MatrixCell& cell : row.cells()) {
    const std::string metric = MetricLabel(cell.metric(), cell.parameters());
    if (absl::StartsWith(cell.metric(), "boot.")) {
      boot_unit = cell.unit();
      if (cell.kvm().has_median())
        boot_bars.push_back({metric + " KVM", cell.kvm().median(), "#2b7bb9"});
      if (cell.tcg().has_median())
        boot_bars.push_back({metric + " TCG", cell.tcg().median(), "#d9822b"});
      continue;
    }
    if (!cell.native().has_median()) continue;
    workload_bars.push_back({metric + " native", 100, "#777"});
    if (cell.has_kvm_percent_of_native()) {
      workload_bars.push_back({metric + " KVM", cell.kvm_percent_of_native(), "#2b7bb9"});
    }
    if (cell.has_tcg_percent_of_native()) {
      workload_bars.push_back({metric + " TCG", cell.tcg_percent_of_native(), "#d9822b"});
    }
  }
  if (!workload_bars.empty())
    html += BarChart("Workloads: KVM and TCG as % of native", workload_bars, "%");
  if (!boot_bars.empty()) html += BarChart("Boot to userspace", boot_bars, boot_unit);
  return html + "</section>\n";
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The sweeps behind the figures, and who ran them: the report's audit trail.
std::string SweepsSection(const std::vector<farm::v1::Sweep>& sweeps) {
  if (sweeps.empty()) return "";
  std::string html =
      "<h2>Sweeps</h2>\n<table id=\"sweeps\"><tr><th>SWEEP</th><th>STATE</th><th>CREATED</th>"
      "<th>STARTED BY</th><th>CANCELLED BY</th><th>REASON</th></tr>\n";
  for (const farm::v1::Sweep& sweep : sweeps) {
    html += "<tr>";
    for (const std::string& field :
         {sweep.sweep_id(), std::string(LowerEnumValueName(sweep.state())),
          sweep.has_created_at() ? google::protobuf::util::TimeUtil::ToString(sweep.created_at())
                                 : "",
          sweep.started_by(), sweep.cancelled_by(), sweep.reason()}) {
      absl::StrAppend(&html, "<td>", HtmlEscape(field), "</td>");
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

std::string HtmlReport(const farm::v1::GetMatrixResponse& matrix,
                       const std::vector<farm::v1::Sweep>& sweeps) {
  const std::string generated =
      matrix.has_generated_at() ? google::protobuf::util::TimeUtil::ToString(matrix.generated_at())
                                : "";
  std::string html = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>kvmfarm compatibility report</title>",
      kStyle, "</head><body>\n<h1>kvmfarm compatibility report</h1>\n<p>Generated ",
      HtmlEscape(generated), "; ", matrix.rows_size(), " rows.</p>\n");
  for (const farm::v1::MatrixRow& row : matrix.rows()) html += RowSection(row);
  const MatrixTable table = MatrixAsTable(matrix);
  html += "<h2>Matrix</h2>\n<table id=\"matrix\"><tr>";
  for (const std::string& h : table.header) absl::StrAppend(&html, "<th>", HtmlEscape(h), "</th>");
  html += "</tr>\n";
  for (const auto& row : table.rows) {
    html += "<tr>";
    for (const std::string& field : row) absl::StrAppend(&html, "<td>", HtmlEscape(field), "</td>");
    html += "</tr>\n";
  }
  return html + "</table>\n" + SweepsSection(sweeps) + "</body></html>\n";
}

}  // namespace kvmfarm::farmctl
