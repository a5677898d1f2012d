#include "common/html/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/html/html.h"

namespace kvmfarm::html {
namespace {

// The natural width of every chart, in viewBox units (CSS pixels at full size).
constexpr int kWidth = 640;
constexpr int kFontSize = 12;
constexpr int kTickFontSize = 11;
constexpr int kTitleFontSize = 14;
// Where the legend starts: below the title.
constexpr int kLegendTop = 26;
constexpr int kLegendRowHeight = 18;
constexpr char kAxisColour[] = "#555";
constexpr char kGridColour[] = "#e3e3e3";

// Colours for series other than native/KVM/TCG: distinct from those and each other.
constexpr const char* kFallbackPalette[] = {"#3a9a5b", "#8e5ac8", "#c8423b",
                                            "#2aa6a6", "#b58b00", "#d45d9a"};

// The colour native, KVM and TCG have in every chart; nullptr for other series.
const char* OwnColour(absl::string_view series) {
  if (absl::EqualsIgnoreCase(series, "native")) return "#777";
  if (absl::EqualsIgnoreCase(series, "kvm")) return "#2b7bb9";
  if (absl::EqualsIgnoreCase(series, "tcg")) return "#d9822b";
  return nullptr;
}

// Roughly how wide `chars` characters of a sans-serif font are.
double TextWidth(size_t chars, int font_size) { return chars * 0.6 * font_size; }

size_t CodePoints(absl::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// `text` cut to at most `max_chars` characters (code points, not bytes), the last
// an ellipsis when it is cut.
std::string Truncate(absl::string_view text, size_t max_chars) {
  if (CodePoints(text) <= max_chars) return std::string(text);
  if (max_chars == 0) return "";
  size_t kept = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80 && kept++ == max_chars - 1) break;
  }
  return absl::StrCat(text.substr(0, i), "\xE2\x80\xA6");
}

// Escaped `text` cut to `max_chars`, with the whole text as a tooltip when cut:
// the content of a <text> element.
std::string TextContent(absl::string_view text, size_t max_chars) {
  const std::string shown = Truncate(text, max_chars);
  if (shown == text) return HtmlEscape(text);
  return absl::StrCat(HtmlEscape(shown), "<title>", HtmlEscape(text), "</title>");
}

std::string WithUnit(const std::string& number, absl::string_view unit) {
  return unit.empty() ? number : absl::StrCat(number, " ", unit);
}

// A measured value as every chart writes it: four significant digits.
std::string ValueText(double value, absl::string_view unit) {
  return WithUnit(absl::StrFormat("%.4g", value), unit);
}

// A coordinate, to a tenth of a unit.
std::string Coord(double v) { return absl::StrFormat("%.1f", v); }

// A value axis: round ticks every `step` from `min` to `max`, written with
// `decimals` digits after the point at most.
struct Axis {
  double min = 0;
  double max = 1;
  double step = 1;
  int decimals = 0;

  int TickCount() const { return static_cast<int>(std::lround((max - min) / step)) + 1; }
  double Tick(int i) const {
    const double v = min + i * step;
    return std::abs(v) < step * 1e-9 ? 0 : v;
  }
  std::string TickText(int i, absl::string_view unit) const {
    std::string s = absl::StrFormat("%.*f", decimals, Tick(i));
    if (absl::StrContains(s, '.')) {
      s.erase(s.find_last_not_of('0') + 1);
      if (s.back() == '.') s.pop_back();
    }
    return WithUnit(s, unit);
  }
  // Where `v` is between `from` (the axis' min) and `to` (its max).
  double Scale(double v, double from, double to) const {
    return from + (v - min) / (max - min) * (to - from);
  }
};

// The axis over [lo, hi] and 0, in steps of 1, 2 or 5 times a power of ten: three
// to six ticks.
Axis NiceAxis(double lo, double hi) {
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  if (hi == lo) hi = lo + 1;
  const double raw = (hi - lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  Axis axis;
  axis.step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude;
  axis.min = std::floor(lo / axis.step + 1e-9) * axis.step;
  axis.max = std::ceil(hi / axis.step - 1e-9) * axis.step;
  axis.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(axis.step) + 1e-9)));
  return axis;
}

struct LegendEntry {
  std::string name;
  std::string colour;
};

// Series in order of first appearance, each with its colour.
class Legend {
 public:
  void Add(const std::string& name) {
    for (const LegendEntry& e : entries_) {
      if (e.name == name) return;
    }
    entries_.push_back({name, SeriesColour(name, OwnColour(name) != nullptr ? 0 : fallbacks_++)});
  }
  const std::string& ColourOf(const std::string& name) const {
    for (const LegendEntry& e : entries_) {
      if (e.name == name) return e.colour;
    }
    static const std::string kNone = "#000";
    return kNone;
  }
  bool empty() const { return entries_.empty(); }

  // The legend from y = kLegendTop, wrapped to the chart's width; sets *bottom to
  // the y below it.
  std::string Svg(int* bottom) const {
    std::string svg = "<g class=\"chart-legend\">";
    double x = 0;
    int y = kLegendTop;
    for (const LegendEntry& e : entries_) {
      const std::string name = Truncate(e.name, 30);
      const double width = 14 + TextWidth(CodePoints(name), kFontSize) + 16;
      if (x > 0 && x + width > kWidth) {
        x = 0;
        y += kLegendRowHeight;
      }
      absl::StrAppendFormat(&svg,
                            "<rect x=\"%s\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
                            "<text x=\"%s\" y=\"%d\">%s</text>",
                            Coord(x), y + 1, e.colour, Coord(x + 14), y + 10,
                            TextContent(e.name, 30));
      x += width;
    }
    *bottom = y + kLegendRowHeight;
    return svg + "</g>";
  }

 private:
  std::vector<LegendEntry> entries_;
  size_t fallbacks_ = 0;
};

// The <svg> start tag, its <title> and the drawn title.
std::string SvgStart(absl::string_view title, int height) {
  return absl::StrFormat(
      "<svg role=\"img\" viewBox=\"0 0 %d %d\" width=\"100%%\" "
      "style=\"max-width:%dpx;height:auto\" font-family=\"system-ui,sans-serif\" "
      "font-size=\"%d\" fill=\"#222\"><title>%s</title>"
      "<text x=\"0\" y=\"16\" font-size=\"%d\" font-weight=\"bold\">%s</text>",
      kWidth, height, kWidth, kFontSize, HtmlEscape(title), kTitleFontSize,
      TextContent(title, static_cast<size_t>(kWidth / (0.6 * kTitleFontSize))));
}

std::string NoData(absl::string_view title) {
  return absl::StrCat(SvgStart(title, 50),
                      "<text x=\"0\" y=\"40\" fill=\"#777\">no data</text></svg>\n");
}

std::string Line(double x1, double y1, double x2, double y2, absl::string_view colour) {
  return absl::StrFormat("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"/>", Coord(x1),
                         Coord(y1), Coord(x2), Coord(y2), colour);
}

}  // namespace

std::string SeriesColour(absl::string_view series, size_t fallback_index) {
  if (const char* own = OwnColour(series); own != nullptr) return own;
  return kFallbackPalette[fallback_index % std::size(kFallbackPalette)];
}

std::string BarChart(const BarChartSpec& spec) {
  Legend legend;
  double lo = 0, hi = 0;
  for (const BarGroup& group : spec.groups) {
    for (const Bar& bar : group.bars) {
      if (!std::isfinite(bar.value)) continue;
      legend.Add(bar.series);
      lo = std::min(lo, bar.value);
      hi = std::max(hi, bar.value);
    }
  }
  if (legend.empty()) return NoData(spec.title);

  // Each group: its label on a line of its own (the whole width for it, none taken
  // from the bars on a phone), then its bars.
  constexpr int kLabelLine = 16, kBarHeight = 14, kBarPitch = 17, kGroupGap = 6;
  constexpr double kPlotLeft = 16, kPlotRight = kWidth - 90;
  const Axis axis = NiceAxis(lo, hi);
  auto x_of = [&](double v) { return axis.Scale(v, kPlotLeft, kPlotRight); };
  const size_t label_chars = static_cast<size_t>(kWidth / (0.6 * kFontSize));

  int top = 0;
  const std::string legend_svg = legend.Svg(&top);
  top += 4;
  std::string bars;
  int y = top;
  for (const BarGroup& group : spec.groups) {
    std::vector<const Bar*> shown;
    for (const Bar& bar : group.bars) {
      if (std::isfinite(bar.value)) shown.push_back(&bar);
    }
    if (shown.empty()) continue;
    absl::StrAppendFormat(&bars, "<text x=\"0\" y=\"%d\">%s</text>", y + 12,
                          TextContent(group.label, label_chars));
    y += kLabelLine;
    for (const Bar* bar : shown) {
      const double zero = x_of(0), end = x_of(bar->value);
      const std::string value = ValueText(bar->value, spec.unit);
      // After the bar's end; a negative bar's value right of zero, where it can't
      // run off the chart.
      absl::StrAppendFormat(
          &bars,
          "<rect class=\"chart-bar\" x=\"%s\" y=\"%d\" width=\"%s\" height=\"%d\" fill=\"%s\">"
          "<title>%s</title></rect>"
          "<text x=\"%s\" y=\"%d\">%s</text>",
          Coord(std::min(zero, end)), y + 1, Coord(std::abs(end - zero)), kBarHeight,
          legend.ColourOf(bar->series),
          HtmlEscape(absl::StrCat(group.label, ", ", bar->series, ": ", value)),
          Coord(std::max(zero, end) + 4), y + 12, HtmlEscape(value));
      y += kBarPitch;
    }
    y += kGroupGap;
  }
  const int axis_y = y - kGroupGap + 4;

  std::string grid = "<g class=\"chart-axis\">";
  for (int i = 0; i < axis.TickCount(); ++i) {
    const double x = x_of(axis.Tick(i));
    absl::StrAppend(&grid, Line(x, top, x, axis_y, kGridColour),
                    Line(x, axis_y, x, axis_y + 4, kAxisColour));
    absl::StrAppendFormat(&grid,
                          "<text x=\"%s\" y=\"%d\" font-size=\"%d\" text-anchor=\"middle\" "
                          "fill=\"%s\">%s</text>",
                          Coord(x), axis_y + 16, kTickFontSize, kAxisColour,
                          HtmlEscape(axis.TickText(i, spec.unit)));
  }
  absl::StrAppend(&grid, Line(kPlotLeft, axis_y, kPlotRight, axis_y, kAxisColour));
  if (axis.min < 0) absl::StrAppend(&grid, Line(x_of(0), top, x_of(0), axis_y, kAxisColour));
  grid += "</g>";

  return absl::StrCat(SvgStart(spec.title, axis_y + 22), legend_svg, grid, bars, "</svg>\n");
}

std::string LineChart(const LineChartSpec& spec) {
  const size_t n = spec.x_ticks.size();
  // The series' values that are drawn: finite, within the x ticks.
  auto value_at = [&](const Series& s, size_t i) -> std::optional<double> {
    if (i >= s.values.size() || !s.values[i].has_value() || !std::isfinite(*s.values[i]))
      return std::nullopt;
    return s.values[i];
  };
  Legend legend;
  double lo = 0, hi = 0;
  for (const Series& s : spec.series) {
    for (size_t i = 0; i < n; ++i) {
      if (std::optional<double> v = value_at(s, i)) {
        legend.Add(s.name);
        lo = std::min(lo, *v);
        hi = std::max(hi, *v);
      }
    }
  }
  if (legend.empty()) return NoData(spec.title);

  const Axis axis = NiceAxis(lo, hi);
  size_t widest_tick = 0;
  for (int i = 0; i < axis.TickCount(); ++i)
    widest_tick = std::max(widest_tick, CodePoints(axis.TickText(i, spec.unit)));
  const double plot_left = std::clamp(TextWidth(widest_tick, kTickFontSize) + 12, 40.0, 160.0);
  constexpr double kPlotRight = kWidth - 20, kPlotHeight = 180, kPad = 16;

  int legend_bottom = 0;
  const std::string legend_svg = legend.Svg(&legend_bottom);
  const double top = legend_bottom + 6, axis_y = top + kPlotHeight;
  auto y_of = [&](double v) { return axis.Scale(v, axis_y, top); };
  auto x_of = [&](size_t i) {
    if (n == 1) return (plot_left + kPlotRight) / 2;
    return plot_left + kPad + i * (kPlotRight - plot_left - 2 * kPad) / (n - 1);
  };

  std::string svg = absl::StrCat(
      SvgStart(spec.title, static_cast<int>(axis_y) + (spec.x_label.empty() ? 26 : 42)), legend_svg,
      "<g class=\"chart-axis\">");
  for (int i = 0; i < axis.TickCount(); ++i) {
    const double y = y_of(axis.Tick(i));
    absl::StrAppend(&svg, Line(plot_left, y, kPlotRight, y, i == 0 ? kAxisColour : kGridColour));
    absl::StrAppendFormat(&svg,
                          "<text x=\"%s\" y=\"%s\" font-size=\"%d\" text-anchor=\"end\" "
                          "fill=\"%s\">%s</text>",
                          Coord(plot_left - 6), Coord(y + 4), kTickFontSize, kAxisColour,
                          HtmlEscape(axis.TickText(i, spec.unit)));
  }
  if (axis.min < 0)
    absl::StrAppend(&svg, Line(plot_left, y_of(0), kPlotRight, y_of(0), kAxisColour));
  absl::StrAppend(&svg, Line(plot_left, top, plot_left, axis_y, kAxisColour));
  // X tick labels: every `every`-th, so that they don't overlap.
  constexpr size_t kTickChars = 12;
  size_t widest_label = 1;
  for (const std::string& t : spec.x_ticks)
    widest_label = std::max(widest_label, CodePoints(Truncate(t, kTickChars)));
  const size_t fit = std::max<size_t>(
      1,
      static_cast<size_t>((kPlotRight - plot_left) / (TextWidth(widest_label, kTickFontSize) + 8)));
  const size_t every = (n + fit - 1) / fit;
  for (size_t i = 0; i < n; ++i) {
    const double x = x_of(i);
    absl::StrAppend(&svg, Line(x, axis_y, x, axis_y + 4, kAxisColour));
    if (i % every != 0) continue;
    absl::StrAppendFormat(&svg,
                          "<text x=\"%s\" y=\"%s\" font-size=\"%d\" text-anchor=\"middle\" "
                          "fill=\"%s\">%s</text>",
                          Coord(x), Coord(axis_y + 16), kTickFontSize, kAxisColour,
                          TextContent(spec.x_ticks[i], kTickChars));
  }
  if (!spec.x_label.empty()) {
    absl::StrAppendFormat(&svg,
                          "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"%s\">%s</text>",
                          Coord((plot_left + kPlotRight) / 2), Coord(axis_y + 34), kAxisColour,
                          HtmlEscape(spec.x_label));
  }
  svg += "</g>";

  for (const Series& s : spec.series) {
    std::string points, dots;
    size_t count = 0;
    for (size_t i = 0; i < n; ++i) {
      const std::optional<double> v = value_at(s, i);
      if (!v.has_value()) continue;
      ++count;
      absl::StrAppend(&points, points.empty() ? "" : " ", Coord(x_of(i)), ",", Coord(y_of(*v)));
      absl::StrAppendFormat(&dots, "<circle cx=\"%s\" cy=\"%s\" r=\"3\"><title>%s</title></circle>",
                            Coord(x_of(i)), Coord(y_of(*v)),
                            HtmlEscape(absl::StrCat(s.name, " at ", spec.x_ticks[i], ": ",
                                                    ValueText(*v, spec.unit))));
    }
    if (count == 0) continue;
    const std::string& colour = legend.ColourOf(s.name);
    absl::StrAppendFormat(&svg, "<g class=\"chart-series\" fill=\"%s\">", colour);
    if (count > 1) {
      absl::StrAppendFormat(&svg,
                            "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" "
                            "stroke-width=\"2\"/>",
                            points, colour);
    }
    absl::StrAppend(&svg, dots, "</g>");
  }
  return svg + "</svg>\n";
}

}  // namespace kvmfarm::html
