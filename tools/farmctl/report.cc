#include "tools/farmctl/report.h"

#include <google/protobuf/util/time_util.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/html/html.h"
#include "common/html/matrix_charts.h"
#include "common/proto_enum.h"
#include "tools/farmctl/format.h"

namespace kvmfarm::farmctl {
namespace {

using ::kvmfarm::html::HtmlEscape;
using ::kvmfarm::html::MatrixRowCharts;

constexpr char kStyle[] = R"(<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:nth-child(-n+4),th{text-align:left}
.verdict{font-weight:bold;padding:2px 6px;border-radius:3px;background:#eee}
.verdict.ready{background:#c8ecc8}.verdict.fixture{background:#f3e6b3}
section{margin-bottom:2em}
section svg{display:block;margin:.5em 0}
</style>)";

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
  // Workloads as % of native, and boot figures in a chart per unit.
  html += MatrixRowCharts(row);
  return html + "</section>\n";
}

}  // namespace

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
