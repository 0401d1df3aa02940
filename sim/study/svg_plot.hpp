#pragma once
/// \file
/// A small, dependency-free SVG 1.1 writer for x-y plots: the Pareto frontiers of `moesim sweep`
/// and `moesim compare`, with per-point labels (the deployment behind each point) and vertical
/// reference lines (SLA levels in tokens/s per user).
///
/// Layout: title on top, the plot area framed by a left and a bottom axis with "nice" ticks
/// (1, 2 or 5 x 10^k steps on linear axes; 1, 2, 5 or 1..9 x 10^k on log axes) and light grid
/// lines, axis labels centred on their axis. Each axis spans the drawn data (and, for x, the
/// vertical lines) plus 5 % on each side, clamped at zero when all the data are non-negative; an
/// empty or single-value range is widened so that nothing divides by zero.
///
/// Text placement is greedy and deterministic: each vertical-line label (rotated, along its line,
/// top or bottom), then the legend (a plot-area corner), then each point label (one of six
/// positions around its marker, 6 px off) takes the candidate position that stays inside the plot
/// area and covers the least: markers and text placed before it cost 8 each, lines 1 per 4 px
/// crossed, text 64; ties go to the first candidate. A point label whose best position would still
/// leave the plot area or cover other text is not drawn (crowded frontiers stay readable); its
/// text remains in the marker's data-label and tooltip. Point labels get a white halo. Text
/// widths are estimated (0.6 em per glyph), so a font much wider than DejaVu Sans may touch.
///
/// What is not drawn: points with a non-finite coordinate, and on a log axis points (and vertical
/// lines) whose value on that axis is <= 0. They neither extend the axes nor appear as circles.

#include <string>
#include <vector>

namespace moesim::study {

/// One data series of a plot.
struct PlotSeries {
  std::string name;          ///< legend entry
  std::vector<double> x, y;  ///< points, drawn in order as a polyline plus markers
  std::vector<std::string>
      labels;        ///< per-point label drawn next to the marker (empty or x.size())
  bool line = true;  ///< connect the points
};

/// What to plot. Values are in the units named by the axis labels.
struct PlotSpec {
  std::string title, x_label, y_label;  ///< labels include units, e.g. "tokens/s per user"
  std::vector<PlotSeries> series;
  std::vector<double> vlines;  ///< vertical reference lines (e.g. SLA 20/50/100 tok/s/user)
  std::vector<std::string> vline_labels;  ///< same size as vlines
  bool log_x = false, log_y = false;
};

/// A standalone SVG 1.1 document (width x height px) of the plot: axes with "nice" ticks and
/// numbers, axis labels, title, legend, one <g class="series" data-name="..."> per series with
/// one <circle class="point" data-x=".." data-y=".." data-label=".."> per point (exact values in
/// data-x/data-y with %.6g) and a <polyline> when line, vertical lines as <line class="vline">,
/// drawn point labels as <text class="point-label"> (see the file comment for the ones left
/// out). Text is XML-escaped. Deterministic (same spec, same bytes). Points that cannot be drawn
/// (see the file comment) are left out. Asserts that x, y (and labels, when not empty) of each
/// series have one entry per point, that vline_labels has one entry per vline, and that width >=
/// 200 and height >= 150 px.
std::string render_svg(const PlotSpec& spec, int width = 900, int height = 600);

/// One bar of a waterfall: from `from` to `to` on the value axis; a total bar (the baseline
/// and the target) starts at the axis' bottom whatever `from`.
struct WaterfallBar {
  std::string label;  ///< under the bar
  double from = 0.0, to = 0.0;
  bool total = false;
  std::string text;  ///< above the bar (e.g. "x1.9")
};

/// One panel of a waterfall chart (e.g. one interactivity level).
struct WaterfallPanel {
  std::string title;
  std::vector<WaterfallBar> bars;
  std::string note;  ///< drawn instead of bars when there are none
};

/// Waterfall panels side by side on one shared log value axis.
struct WaterfallSpec {
  std::string title, y_label;
  std::vector<WaterfallPanel> panels;
};

/// A standalone SVG 1.1 document of `spec`: one panel per entry (panel_width px each), a shared
/// log y axis (nice_axis) with grid lines, bars in blue (totals), green (a step up) or red (a
/// step down), each bar's text above it and its label under it (rotated). One
/// <rect class="bar" data-label=".." data-from=".." data-to=".."> per bar. Deterministic.
/// Values <= 0 or non-finite are not drawn.
std::string render_waterfall_svg(const WaterfallSpec& spec, int panel_width = 300,
                                 int height = 460);

/// The visible range of one axis and its tick values, in data units.
struct AxisTicks {
  double lo = 0.0, hi = 1.0;  ///< axis ends, lo < hi (and lo > 0 on a log axis)
  std::vector<double> ticks;  ///< ascending tick values inside [lo, hi]
};

/// The axis for data spanning [data_lo, data_hi] (data_lo <= data_hi, finite, and > 0 when log):
/// the span widened by 5 % on each side (on a log axis, 5 % of the span in decades), clamped at
/// zero on a linear axis when data_lo >= 0, and about `target` ticks at 1, 2 or 5 x 10^k. A
/// single value v is widened to v +- 10 % (+- 1 when v = 0; x/2 and x2 on a log axis).
AxisTicks nice_axis(double data_lo, double data_hi, bool log, int target = 6);

/// Escapes &, <, >, " and ' for XML text and attribute values; control characters that XML 1.0
/// forbids become '?'.
std::string xml_escape(const std::string& text);

}  // namespace moesim::study
