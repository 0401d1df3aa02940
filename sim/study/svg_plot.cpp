#include "sim/study/svg_plot.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "sim/core/assert.hpp"

namespace moesim::study {

namespace {

/// Tableau 10, the default matplotlib cycle: distinguishable and colour-blind aware.
constexpr std::array<const char*, 10> kPalette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                                  "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                                  "#bcbd22", "#17becf"};

constexpr double kMarginLeft = 80.0;
constexpr double kMarginRight = 24.0;
constexpr double kMarginTop = 44.0;
constexpr double kMarginBottom = 56.0;
constexpr double kTitleFont = 16.0;
constexpr double kAxisLabelFont = 13.0;
constexpr double kTickFont = 11.0;
constexpr double kLegendFont = 12.0;
constexpr double kLegendRow = 18.0;
constexpr double kPointLabelFont = 10.0;
constexpr double kVlineLabelFont = 11.0;
constexpr double kMarkerRadius = 4.0;
constexpr double kLabelOffset = 6.0;
/// Average glyph advance and ascent of a sans-serif font, as fractions of the font size
/// (estimates used only to keep text inside the plot and off other text).
constexpr double kGlyphWidth = 0.6;
constexpr double kAscent = 0.8;
constexpr double kDescent = 0.25;
/// Fraction of the span added on each side of an axis.
constexpr double kAxisPad = 0.05;
/// Above this many decade ticks a log axis labels only every k-th decade.
constexpr int kMaxLogTicks = 10;
/// Placement costs: covering text, a marker, crossing a line (per kLineSample px of line), and
/// leaving the plot area.
constexpr int kTextCost = 64;
constexpr int kSolidCost = 8;
constexpr int kLineCost = 1;
constexpr double kLineSample = 4.0;
constexpr int kOutsideCost = 1'000'000;

/// Locale-independent formatting: fixed with `decimals` digits, or %.<digits>g when decimals < 0.
std::string format(double v, int decimals, int digits = 6) {
  std::array<char, 64> buf{};
  const auto res = decimals >= 0 ? std::to_chars(buf.data(), buf.data() + buf.size(), v,
                                                 std::chars_format::fixed, decimals)
                                 : std::to_chars(buf.data(), buf.data() + buf.size(), v,
                                                 std::chars_format::general, digits);
  MOESIM_ASSERT(res.ec == std::errc{}, "number does not fit the format buffer");
  std::string out(buf.data(), res.ptr);
  // A negative value that rounds to zero prints as "-0.0"; drop the sign.
  if (out.front() == '-' && out.find_first_not_of("-0.") == std::string::npos) out.erase(0, 1);
  return out;
}

/// The exact value of a data attribute (%.6g).
std::string exact(double v) { return format(v, -1); }

/// A tick label: as many decimals as the tick step needs, %.6g outside [1e-4, 1e6).
std::string tick_label(double v, double step) {
  if (v != 0.0 && (std::abs(v) >= 1e6 || std::abs(v) < 1e-4)) return exact(v);
  return format(v, std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9))));
}

double text_width(const std::string& s, double font) {
  std::size_t glyphs = 0;  // UTF-8 code points: bytes that are not continuation bytes
  for (char ch : s) glyphs += (static_cast<unsigned char>(ch) & 0xC0U) != 0x80U ? 1 : 0;
  return static_cast<double>(glyphs) * kGlyphWidth * font;
}

/// A pixel coordinate or length.
std::string px(double v) { return format(v, 1); }

/// One attribute, ` key="value"`, the value escaped; elements take a concatenation of these.
std::string at(const char* key, const std::string& value) {
  return std::string(" ") + key + "=\"" + xml_escape(value) + "\"";
}
/// A start tag: `<name attrs>`.
std::string open(const char* name, const std::string& attrs) {
  return std::string("<") + name + attrs + ">\n";
}
/// An element without content: `<name attrs/>`.
std::string leaf(const char* name, const std::string& attrs) {
  return std::string("<") + name + attrs + "/>\n";
}
/// An element holding (escaped) text: `<name attrs>text</name>`.
std::string text(const char* name, const std::string& attrs, const std::string& content) {
  return std::string("<") + name + attrs + ">" + xml_escape(content) + "</" + name + ">\n";
}

struct Box {
  double x0, y0, x1, y1;
  bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  bool inside(const Box& o) const { return x0 >= o.x0 && x1 <= o.x1 && y0 >= o.y0 && y1 <= o.y1; }
};

/// A 1-2-5 step near span / target.
double nice_step(double span, int target) {
  const double rough = span / static_cast<double>(std::max(target, 1));
  const double mag = std::pow(10.0, std::floor(std::log10(rough)));
  const double norm = rough / mag;
  return (norm < 1.5 ? 1.0 : norm < 3.0 ? 2.0 : norm < 7.0 ? 5.0 : 10.0) * mag;
}

std::vector<double> linear_ticks(double lo, double hi, int target) {
  const double step = nice_step(hi - lo, target);
  std::vector<double> ticks;
  const double last = std::floor(hi / step + 1e-9);
  for (double i = std::ceil(lo / step - 1e-9); i <= last; i += 1.0) ticks.push_back(i * step);
  return ticks;
}

/// Ticks at m x 10^k for m in `mantissas`, inside [lo, hi].
std::vector<double> log_ticks(double lo, double hi, std::initializer_list<int> mantissas) {
  std::vector<double> ticks;
  const int k1 = static_cast<int>(std::ceil(std::log10(hi)));
  for (int k = static_cast<int>(std::floor(std::log10(lo))); k <= k1; ++k) {
    for (int m : mantissas) {
      const double v = m * std::pow(10.0, k);
      if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) ticks.push_back(v);
    }
  }
  return ticks;
}

/// Maps the data values of one axis to pixels.
struct AxisMap {
  AxisTicks axis;
  bool log = false;
  double p0 = 0.0, p1 = 1.0;  ///< pixels of axis.lo and axis.hi
  double t(double v) const { return log ? std::log10(v) : v; }
  double operator()(double v) const {
    return p0 + (t(v) - t(axis.lo)) / (t(axis.hi) - t(axis.lo)) * (p1 - p0);
  }
  bool drawable(double v) const { return std::isfinite(v) && (!log || v > 0.0); }
};

/// The axis for the values in `values`, all drawable (a default range when there are none).
AxisTicks axis_for(const std::vector<double>& values, bool log, int target) {
  if (values.empty()) return nice_axis(log ? 1.0 : 0.0, log ? 10.0 : 1.0, log, target);
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  return nice_axis(*lo, *hi, log, target);
}

/// Drawable points of one series in pixels, with their index in the series.
struct Pixel {
  std::size_t index;
  double x, y;
};

/// Everything the drawing steps share.
struct Layout {
  const PlotSpec& spec;
  AxisMap xm, ym;
  Box plot;
  std::vector<std::vector<Pixel>> pix;  ///< per series
};

/// Boxes that text should avoid, each with the cost of covering it.
class Obstacles {
 public:
  void add(const Box& b, int weight, bool text = false) { items_.push_back({b, weight, text}); }
  /// The cost of drawing `b`: the weights of what it covers, plus kOutsideCost outside `area`.
  int cost(const Box& b, const Box& area) const {
    int n = b.inside(area) ? 0 : kOutsideCost;
    for (const Item& item : items_) n += b.overlaps(item.box) ? item.weight : 0;
    return n;
  }
  /// The index of the cheapest of `boxes` (the first on ties), which becomes a text obstacle.
  /// When `optional`, nullopt instead where even the cheapest leaves `area` or covers text.
  std::optional<std::size_t> place(std::span<const Box> boxes, const Box& area,
                                   bool optional = false) {
    std::size_t best = 0;
    int best_cost = std::numeric_limits<int>::max();
    for (std::size_t i = 0; i < boxes.size(); ++i) {
      const int c = cost(boxes[i], area);
      if (c < best_cost) best_cost = c, best = i;
    }
    const bool covers_text = std::any_of(items_.begin(), items_.end(), [&](const Item& item) {
      return item.text && item.box.overlaps(boxes[best]);
    });
    if (optional && (!boxes[best].inside(area) || covers_text)) return std::nullopt;
    add(boxes[best], kTextCost, true);
    return best;
  }

 private:
  struct Item {
    Box box;
    int weight;
    bool text;
  };
  std::vector<Item> items_;
};

/// The markers and line segments of every series, as obstacles.
Obstacles data_obstacles(const Layout& l) {
  Obstacles obstacles;
  for (std::size_t si = 0; si < l.pix.size(); ++si) {
    const auto& pts = l.pix[si];
    for (std::size_t k = 0; k < pts.size(); ++k) {
      const Pixel& p = pts[k];
      const double r = kMarkerRadius;
      obstacles.add({p.x - r, p.y - r, p.x + r, p.y + r}, kSolidCost);
      if (!l.spec.series[si].line || k == 0) continue;
      const Pixel& q = pts[k - 1];
      const int n = static_cast<int>(std::ceil(std::hypot(p.x - q.x, p.y - q.y) / kLineSample));
      for (int j = 1; j < n; ++j) {
        const double f = static_cast<double>(j) / n;
        const double x = q.x + f * (p.x - q.x);
        const double y = q.y + f * (p.y - q.y);
        obstacles.add({x - 1, y - 1, x + 1, y + 1}, kLineCost);
      }
    }
  }
  return obstacles;
}

std::string draw_axes(const Layout& l, int height) {
  const Box& p = l.plot;
  std::string out = open("g", at("class", "grid") + at("stroke", "#e6e6e6"));
  for (double t : l.xm.axis.ticks) {
    const std::string x = px(l.xm(t));
    out += leaf("line", at("x1", x) + at("y1", px(p.y0)) + at("x2", x) + at("y2", px(p.y1)));
  }
  for (double t : l.ym.axis.ticks) {
    const std::string y = px(l.ym(t));
    out += leaf("line", at("x1", px(p.x0)) + at("y1", y) + at("x2", px(p.x1)) + at("y2", y));
  }
  out += "</g>\n";
  out += open("g", at("class", "axes") + at("stroke", "#333333") + at("fill", "#333333"));
  out += leaf("rect", at("x", px(p.x0)) + at("y", px(p.y0)) + at("width", px(p.x1 - p.x0)) +
                          at("height", px(p.y1 - p.y0)) + at("fill", "none"));
  // Linear axes label every tick with the decimals of the step; log ticks carry their own.
  auto step_of = [](const AxisMap& m, double tick) {
    const auto& t = m.axis.ticks;
    return m.log || t.size() < 2 ? std::max(std::abs(tick), 1e-300) : t[1] - t[0];
  };
  const std::string font = px(kTickFont);
  for (double t : l.xm.axis.ticks) {
    const std::string x = px(l.xm(t));
    out += leaf("line", at("x1", x) + at("y1", px(p.y1)) + at("x2", x) + at("y2", px(p.y1 + 5)));
    out += text("text",
                at("x", x) + at("y", px(p.y1 + 18)) + at("font-size", font) +
                    at("text-anchor", "middle") + at("stroke", "none"),
                tick_label(t, step_of(l.xm, t)));
  }
  for (double t : l.ym.axis.ticks) {
    const double y = l.ym(t);
    out += leaf("line",
                at("x1", px(p.x0 - 5)) + at("y1", px(y)) + at("x2", px(p.x0)) + at("y2", px(y)));
    out += text("text",
                at("x", px(p.x0 - 8)) + at("y", px(y + kTickFont * 0.35)) + at("font-size", font) +
                    at("text-anchor", "end") + at("stroke", "none"),
                tick_label(t, step_of(l.ym, t)));
  }
  out += "</g>\n";
  const std::string cx = px((p.x0 + p.x1) / 2);
  out += text("text",
              at("class", "title") + at("x", cx) + at("y", px(kMarginTop / 2 + 4)) +
                  at("font-size", px(kTitleFont)) + at("font-weight", "bold") +
                  at("text-anchor", "middle") + at("fill", "#222222"),
              l.spec.title);
  out += text("text",
              at("class", "x-label") + at("x", cx) + at("y", px(height - 14.0)) +
                  at("font-size", px(kAxisLabelFont)) + at("text-anchor", "middle") +
                  at("fill", "#222222"),
              l.spec.x_label);
  out += text("text",
              at("class", "y-label") +
                  at("transform", "translate(20," + px((p.y0 + p.y1) / 2) + ") rotate(-90)") +
                  at("font-size", px(kAxisLabelFont)) + at("text-anchor", "middle") +
                  at("fill", "#222222"),
              l.spec.y_label);
  return out;
}

/// Vertical lines, each label rotated to read upwards along its line, at the top or the bottom
/// of the plot area and on either side of the line, wherever it covers the least.
std::string draw_vlines(const Layout& l, Obstacles& obstacles) {
  const PlotSpec& spec = l.spec;
  if (spec.vlines.empty()) return {};
  const Box& p = l.plot;
  std::string out = open("g", at("class", "vlines"));
  for (std::size_t i = 0; i < spec.vlines.size(); ++i) {
    const double v = spec.vlines[i];
    if (!l.xm.drawable(v)) continue;
    const double x = l.xm(v);
    out += leaf("line", at("class", "vline") + at("data-x", exact(v)) +
                            at("data-label", spec.vline_labels[i]) + at("x1", px(x)) +
                            at("y1", px(p.y0)) + at("x2", px(x)) + at("y2", px(p.y1)) +
                            at("stroke", "#555555") + at("stroke-width", "1.2") +
                            at("stroke-dasharray", "6 4"));
    const std::string& label = spec.vline_labels[i];
    if (label.empty()) continue;
    // Rotated by -90 degrees the text runs upwards from its end (the anchor) and its glyphs lie
    // left of the baseline: baseline x + 3 + ascent puts them just right of the line.
    const double len = text_width(label, kVlineLabelFont);
    const double asc = kVlineLabelFont * kAscent;
    const std::array<double, 2> bases = {x + 3 + asc, x - 3};
    const std::array<double, 2> tops = {p.y0 + 6, p.y1 - 6 - len};
    std::array<Box, 4> boxes{};
    for (std::size_t c = 0; c < 4; ++c) {
      boxes[c] = {bases[c % 2] - asc, tops[c / 2], bases[c % 2] + 1, tops[c / 2] + len};
    }
    const std::size_t c = *obstacles.place(boxes, p);
    out += text("text",
                at("class", "vline-label") +
                    at("transform",
                       "translate(" + px(bases[c % 2]) + "," + px(tops[c / 2]) + ") rotate(-90)") +
                    at("font-size", px(kVlineLabelFont)) + at("text-anchor", "end") +
                    at("fill", "#444444"),
                label);
  }
  return out + "</g>\n";
}

std::string draw_series(const PlotSeries& s, const std::string& color,
                        const std::vector<Pixel>& pts) {
  std::string out = open("g", at("class", "series") + at("data-name", s.name));
  if (s.line && pts.size() >= 2) {
    std::string points;
    for (const Pixel& p : pts) points += (points.empty() ? "" : " ") + px(p.x) + "," + px(p.y);
    out += leaf("polyline", at("points", points) + at("fill", "none") + at("stroke", color) +
                                at("stroke-width", "2") + at("stroke-linejoin", "round"));
  }
  for (const Pixel& p : pts) {
    const std::string label = s.labels.empty() ? std::string{} : s.labels[p.index];
    const std::string xs = exact(s.x[p.index]);
    const std::string ys = exact(s.y[p.index]);
    out += "<circle" + at("class", "point") + at("data-x", xs) + at("data-y", ys) +
           at("data-label", label) + at("cx", px(p.x)) + at("cy", px(p.y)) +
           at("r", px(kMarkerRadius)) + at("fill", color) + at("stroke", "#ffffff");
    out += ">" + text("title", "", (label.empty() ? s.name : label) + " (" + xs + ", " + ys + ")");
    out += "</circle>\n";
  }
  return out + "</g>\n";
}

/// The legend, in the corner of the plot area where it covers the least (top right, top left,
/// bottom right, bottom left on ties).
std::string draw_legend(const Layout& l, Obstacles& obstacles) {
  const auto& series = l.spec.series;
  double name_w = 0.0;
  for (const auto& s : series) name_w = std::max(name_w, text_width(s.name, kLegendFont));
  const double w = 10 + 24 + 6 + name_w + 10;
  const double h = 8 + static_cast<double>(series.size()) * kLegendRow + 2;
  const Box& p = l.plot;
  constexpr double kInset = 8;
  const std::array<Box, 4> corners = {
      Box{p.x1 - kInset - w, p.y0 + kInset, p.x1 - kInset, p.y0 + kInset + h},
      Box{p.x0 + kInset, p.y0 + kInset, p.x0 + kInset + w, p.y0 + kInset + h},
      Box{p.x1 - kInset - w, p.y1 - kInset - h, p.x1 - kInset, p.y1 - kInset},
      Box{p.x0 + kInset, p.y1 - kInset - h, p.x0 + kInset + w, p.y1 - kInset}};
  const Box& b = corners[*obstacles.place(corners, p)];
  std::string out = open("g", at("class", "legend") + at("font-size", px(kLegendFont)));
  out += leaf("rect", at("x", px(b.x0)) + at("y", px(b.y0)) + at("width", px(b.x1 - b.x0)) +
                          at("height", px(b.y1 - b.y0)) + at("fill", "#ffffff") +
                          at("fill-opacity", "0.9") + at("stroke", "#cccccc"));
  for (std::size_t i = 0; i < series.size(); ++i) {
    const char* color = kPalette[i % kPalette.size()];
    const double y = b.y0 + 8 + kLegendRow / 2 + static_cast<double>(i) * kLegendRow;
    const double x = b.x0 + 10;
    if (series[i].line) {
      out += leaf("line", at("x1", px(x)) + at("y1", px(y)) + at("x2", px(x + 24)) +
                              at("y2", px(y)) + at("stroke", color) + at("stroke-width", "2"));
    }
    out += leaf("circle", at("cx", px(x + 12)) + at("cy", px(y)) + at("r", px(kMarkerRadius)) +
                              at("fill", color));
    out += text("text",
                at("x", px(x + 30)) + at("y", px(y + kLegendFont * 0.35)) + at("fill", "#222222"),
                series[i].name);
  }
  return out + "</g>\n";
}

/// Every point label, in the cheapest of six positions around its marker, or not at all where
/// each of them would leave the plot area or cover other text; a white halo under each label
/// keeps it readable over lines, markers and grid.
std::string draw_point_labels(const Layout& l, Obstacles& obstacles) {
  static constexpr std::array<const char*, 6> kAnchor = {"start", "start",  "end",
                                                         "end",   "middle", "middle"};
  std::string out;
  for (std::size_t si = 0; si < l.spec.series.size(); ++si) {
    const PlotSeries& s = l.spec.series[si];
    if (s.labels.empty()) continue;
    for (const Pixel& p : l.pix[si]) {
      const std::string& label = s.labels[p.index];
      if (label.empty()) continue;
      const double w = text_width(label, kPointLabelFont);
      const double asc = kPointLabelFont * kAscent;
      const double d = kLabelOffset;
      // Baselines above and below the marker; text starting right of it, ending left of it, or
      // centred on it (then 2 px further off).
      const double up = p.y - d;
      const double down = p.y + d + asc;
      const std::array<double, 6> base = {up, down, up, down, up - 2, down + 2};
      const std::array<double, 6> left = {p.x + d,     p.x + d,     p.x - d - w,
                                          p.x - d - w, p.x - w / 2, p.x - w / 2};
      std::array<Box, 6> boxes{};
      for (std::size_t c = 0; c < boxes.size(); ++c) {
        boxes[c] = {left[c], base[c] - asc, left[c] + w, base[c] + kPointLabelFont * kDescent};
      }
      const std::optional<std::size_t> placed = obstacles.place(boxes, l.plot, true);
      if (!placed) continue;  // no room: the label stays in data-label and the tooltip
      const std::size_t c = *placed;
      const std::string x = px(c < 2 ? left[c] : c < 4 ? left[c] + w : p.x);
      out +=
          text("text",
               at("class", "halo") + at("x", x) + at("y", px(base[c])) +
                   at("text-anchor", kAnchor[c]) + at("stroke", "#ffffff") +
                   at("stroke-width", "3") + at("stroke-linejoin", "round") + at("fill", "#ffffff"),
               label);
      out += text("text",
                  at("class", "point-label") + at("data-series", s.name) + at("x", x) +
                      at("y", px(base[c])) + at("text-anchor", kAnchor[c]) + at("fill", "#333333"),
                  label);
    }
  }
  if (out.empty()) return out;
  return open("g", at("class", "point-labels") + at("font-size", px(kPointLabelFont))) + out +
         "</g>\n";
}

}  // namespace

std::string xml_escape(const std::string& text) {
  constexpr std::string_view kSpecial = "&<>\"'";
  constexpr std::array<const char*, 5> kEntity = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const std::size_t k = kSpecial.find(ch);
    if (k != std::string_view::npos) {
      out += kEntity[k];
    } else {
      const bool forbidden = static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' &&
                             ch != '\r';  // control characters XML 1.0 does not allow
      out += forbidden ? '?' : ch;
    }
  }
  return out;
}

AxisTicks nice_axis(double data_lo, double data_hi, bool log, int target) {
  MOESIM_ASSERT(std::isfinite(data_lo) && std::isfinite(data_hi) && data_lo <= data_hi,
                "an axis needs a finite, ordered data range");
  AxisTicks a;
  if (log) {
    MOESIM_ASSERT(data_lo > 0.0, "a log axis needs positive data");
    const double t0 = std::log10(data_lo);
    const double t1 = std::log10(data_hi);
    const double pad = t1 - t0 < 1e-12 ? std::log10(2.0) : kAxisPad * (t1 - t0);
    a.lo = std::pow(10.0, t0 - pad);
    a.hi = std::pow(10.0, t1 + pad);
    a.ticks = log_ticks(a.lo, a.hi, {1});
    if (static_cast<int>(a.ticks.size()) > kMaxLogTicks) {
      const std::size_t every = (a.ticks.size() + kMaxLogTicks - 1) / kMaxLogTicks;
      std::vector<double> thinned;
      for (std::size_t i = 0; i < a.ticks.size(); i += every) thinned.push_back(a.ticks[i]);
      a.ticks = std::move(thinned);
    }
    if (a.ticks.size() < 3) a.ticks = log_ticks(a.lo, a.hi, {1, 2, 5});
    if (a.ticks.size() < 3) a.ticks = log_ticks(a.lo, a.hi, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    if (a.ticks.size() < 3) a.ticks = linear_ticks(a.lo, a.hi, target);
    return a;
  }
  const bool single = data_hi - data_lo <= 1e-12 * std::max(std::abs(data_lo), std::abs(data_hi));
  const double pad = !single          ? kAxisPad * (data_hi - data_lo)
                     : data_lo == 0.0 ? 1.0
                                      : 0.1 * std::abs(data_lo);
  a.lo = data_lo - pad;
  a.hi = data_hi + pad;
  // Non-negative data (throughputs) start at zero at most; a lone zero keeps its +- 1.
  if (data_lo >= 0.0 && data_hi > 0.0) a.lo = std::max(a.lo, 0.0);
  if (data_hi <= 0.0 && data_lo < 0.0) a.hi = std::min(a.hi, 0.0);
  a.ticks = linear_ticks(a.lo, a.hi, target);
  return a;
}

std::string render_svg(const PlotSpec& spec, int width, int height) {
  MOESIM_ASSERT(width >= 200 && height >= 150, "a plot needs at least 200 x 150 px");
  MOESIM_ASSERT(spec.vline_labels.size() == spec.vlines.size(),
                "vline_labels needs one entry per vertical line");
  Layout l{
      spec, {}, {}, {kMarginLeft, kMarginTop, width - kMarginRight, height - kMarginBottom}, {}};
  l.xm.log = spec.log_x;
  l.ym.log = spec.log_y;
  std::vector<double> xs;
  std::vector<double> ys;
  for (double v : spec.vlines) {
    if (l.xm.drawable(v)) xs.push_back(v);
  }
  for (const PlotSeries& s : spec.series) {
    MOESIM_ASSERT(s.x.size() == s.y.size(), "a series needs as many y values as x values");
    MOESIM_ASSERT(s.labels.empty() || s.labels.size() == s.x.size(),
                  "series labels must be empty or one per point");
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      // A point extends the axes only when both of its coordinates can be drawn.
      if (!l.xm.drawable(s.x[i]) || !l.ym.drawable(s.y[i])) continue;
      xs.push_back(s.x[i]);
      ys.push_back(s.y[i]);
    }
  }
  l.xm.axis = axis_for(xs, spec.log_x, 8);
  l.xm.p0 = l.plot.x0;
  l.xm.p1 = l.plot.x1;
  l.ym.axis = axis_for(ys, spec.log_y, 6);
  l.ym.p0 = l.plot.y1;  // y grows upwards
  l.ym.p1 = l.plot.y0;
  for (const PlotSeries& s : spec.series) {
    auto& pts = l.pix.emplace_back();
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (l.xm.drawable(s.x[i]) && l.ym.drawable(s.y[i])) {
        pts.push_back({i, l.xm(s.x[i]), l.ym(s.y[i])});
      }
    }
  }

  const std::string w = std::to_string(width);
  const std::string h = std::to_string(height);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
  out += open("svg", at("xmlns", "http://www.w3.org/2000/svg") + at("version", "1.1") +
                         at("width", w) + at("height", h) + at("viewBox", "0 0 " + w + " " + h) +
                         at("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"));
  out += leaf("rect",
              at("class", "background") + at("width", w) + at("height", h) + at("fill", "#ffffff"));
  out += draw_axes(l, height);
  // Text is placed in drawing order: vertical-line labels, then the legend, then point labels,
  // each avoiding the data and what was placed before it.
  Obstacles obstacles = data_obstacles(l);
  out += draw_vlines(l, obstacles);
  for (std::size_t i = 0; i < spec.series.size(); ++i) {
    out += draw_series(spec.series[i], kPalette[i % kPalette.size()], l.pix[i]);
  }
  if (!spec.series.empty()) {
    const std::string legend = draw_legend(l, obstacles);
    out += draw_point_labels(l, obstacles);
    out += legend;
  }
  return out + "</svg>\n";
}

}  // namespace moesim::study

namespace moesim::study {
namespace {

constexpr const char* kTotalColour = "#1f77b4";  // kPalette blue
constexpr const char* kUpColour = "#2ca02c";     // kPalette green
constexpr const char* kDownColour = "#d62728";   // kPalette red
constexpr double kBarFill = 0.62;                // share of a bar's slot the bar covers
constexpr double kBarLabelSpace = 78.0;          // px under the plot for rotated bar labels

bool drawable_value(double v) { return std::isfinite(v) && v > 0.0; }

}  // namespace

std::string render_waterfall_svg(const WaterfallSpec& spec, int panel_width, int height) {
  MOESIM_ASSERT(panel_width >= 120 && height >= 200, "a waterfall panel needs 120 x 200 px");
  const auto panels = std::max<std::size_t>(spec.panels.size(), 1);
  const double width = kMarginLeft + kMarginRight + static_cast<double>(panels * panel_width);
  std::vector<double> values;
  for (const WaterfallPanel& p : spec.panels) {
    for (const WaterfallBar& b : p.bars) {
      if (drawable_value(b.to)) values.push_back(b.to);
      if (!b.total && drawable_value(b.from)) values.push_back(b.from);
    }
  }
  const AxisTicks axis = axis_for(values, true, 6);
  const double top = kMarginTop + 22.0;  // room for the panel titles
  const double bottom = height - kMarginBottom - kBarLabelSpace;
  const auto y = [&](double v) {
    const double t =
        (std::log10(v) - std::log10(axis.lo)) / (std::log10(axis.hi) - std::log10(axis.lo));
    return bottom - t * (bottom - top);
  };

  const std::string w = format(width, 0);
  const std::string h = std::to_string(height);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n";
  out += open("svg", at("xmlns", "http://www.w3.org/2000/svg") + at("version", "1.1") +
                         at("width", w) + at("height", h) + at("viewBox", "0 0 " + w + " " + h) +
                         at("font-family", "DejaVu Sans, Helvetica, Arial, sans-serif"));
  out += leaf("rect",
              at("class", "background") + at("width", w) + at("height", h) + at("fill", "#ffffff"));
  out += text("text",
              at("class", "title") + at("x", px(width / 2)) + at("y", px(kMarginTop / 2 + 6)) +
                  at("text-anchor", "middle") + at("font-size", px(kTitleFont)),
              spec.title);
  // Shared y axis: grid lines and tick labels across every panel.
  const double x0 = kMarginLeft;
  const double x1 = width - kMarginRight;
  for (const double t : axis.ticks) {
    out += leaf("line", at("class", "grid") + at("x1", px(x0)) + at("x2", px(x1)) +
                            at("y1", px(y(t))) + at("y2", px(y(t))) + at("stroke", "#e0e0e0"));
    out += text("text",
                at("x", px(x0 - 6)) + at("y", px(y(t) + kTickFont / 3)) + at("text-anchor", "end") +
                    at("font-size", px(kTickFont)),
                tick_label(t, t));
  }
  out += leaf("line", at("x1", px(x0)) + at("x2", px(x0)) + at("y1", px(top)) +
                          at("y2", px(bottom)) + at("stroke", "#000000"));
  out += leaf("line", at("x1", px(x0)) + at("x2", px(x1)) + at("y1", px(bottom)) +
                          at("y2", px(bottom)) + at("stroke", "#000000"));
  const double mid_y = (top + bottom) / 2;
  out += text("text",
              at("class", "axis-label") + at("x", px(18)) + at("y", px(mid_y)) +
                  at("text-anchor", "middle") + at("font-size", px(kAxisLabelFont)) +
                  at("transform", "rotate(-90 18 " + px(mid_y) + ")"),
              spec.y_label);

  for (std::size_t i = 0; i < spec.panels.size(); ++i) {
    const WaterfallPanel& p = spec.panels[i];
    const double left = x0 + static_cast<double>(i * panel_width);
    const double right = left + panel_width;
    out += open("g", at("class", "panel") + at("data-title", p.title));
    out += text("text",
                at("x", px((left + right) / 2)) + at("y", px(top - 8)) +
                    at("text-anchor", "middle") + at("font-size", px(kAxisLabelFont)),
                p.title);
    if (i > 0) {
      out += leaf("line", at("x1", px(left)) + at("x2", px(left)) + at("y1", px(top)) +
                              at("y2", px(bottom)) + at("stroke", "#b0b0b0"));
    }
    if (p.bars.empty()) {
      out += text("text",
                  at("x", px((left + right) / 2)) + at("y", px(mid_y)) +
                      at("text-anchor", "middle") + at("font-size", px(kTickFont)),
                  p.note);
    }
    const double slot =
        (right - left - 16.0) / static_cast<double>(std::max<std::size_t>(p.bars.size(), 1));
    for (std::size_t k = 0; k < p.bars.size(); ++k) {
      const WaterfallBar& b = p.bars[k];
      if (!drawable_value(b.to)) continue;
      const double from = b.total || !drawable_value(b.from) ? axis.lo : b.from;
      const double ya = y(std::max(from, b.to));
      const double yb = y(std::min(from, b.to));
      const double cx = left + 8.0 + slot * (static_cast<double>(k) + 0.5);
      const double bw = slot * kBarFill;
      const char* colour = b.total ? kTotalColour : (b.to >= from ? kUpColour : kDownColour);
      out += leaf("rect", at("class", "bar") + at("data-label", b.label) +
                              at("data-from", exact(from)) + at("data-to", exact(b.to)) +
                              at("x", px(cx - bw / 2)) + at("y", px(ya)) + at("width", px(bw)) +
                              at("height", px(std::max(yb - ya, 1.0))) + at("fill", colour));
      out += text("text",
                  at("class", "bar-text") + at("x", px(cx)) + at("y", px(ya - 4)) +
                      at("text-anchor", "middle") + at("font-size", px(kPointLabelFont)),
                  b.text);
      const double ly = bottom + 8;
      out += text("text",
                  at("class", "bar-label") + at("x", px(cx)) + at("y", px(ly)) +
                      at("text-anchor", "end") + at("font-size", px(kTickFont)) +
                      at("transform", "rotate(-45 " + px(cx) + " " + px(ly) + ")"),
                  b.label);
    }
    out += "</g>\n";
  }
  return out + "</svg>\n";
}

}  // namespace moesim::study
