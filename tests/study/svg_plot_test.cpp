#include "sim/study/svg_plot.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "sim/core/error.hpp"

namespace moesim::study {
namespace {

/// One start tag of the document, with its attributes (values still escaped).
struct Tag {
  std::string name;
  std::map<std::string, std::string> attrs;
};

/// A minimal XML well-formedness check: every start tag is closed by a matching end tag (or
/// self-closed), attribute values are quoted, and text holds no raw '<' and only the five
/// predefined entities after '&'. Returns the start tags in document order; fails the test on
/// the first problem.
std::vector<Tag> parse_tags(const std::string& doc) {
  std::vector<Tag> tags;
  std::vector<std::string> open;
  auto check_entities = [](const std::string& text) {
    for (std::size_t a = text.find('&'); a != std::string::npos; a = text.find('&', a + 1)) {
      const std::string rest = text.substr(a, 6);
      const bool known = rest.rfind("&amp;", 0) == 0 || rest.rfind("&lt;", 0) == 0 ||
                         rest.rfind("&gt;", 0) == 0 || rest.rfind("&quot;", 0) == 0 ||
                         rest.rfind("&apos;", 0) == 0;
      REQUIRE_MESSAGE(known, "bare '&' in " << text);
    }
  };
  std::size_t i = 0;
  while (i < doc.size()) {
    const std::size_t lt = doc.find('<', i);
    const std::string text = doc.substr(i, (lt == std::string::npos ? doc.size() : lt) - i);
    check_entities(text);
    REQUIRE_MESSAGE(text.find('>') == std::string::npos, "raw '>' in text: " << text);
    if (lt == std::string::npos) break;
    const std::size_t gt = doc.find('>', lt);
    REQUIRE(gt != std::string::npos);
    std::string body = doc.substr(lt + 1, gt - lt - 1);
    i = gt + 1;
    if (body.front() == '?') continue;  // the XML declaration
    if (body.front() == '/') {
      REQUIRE_MESSAGE(!open.empty(), "end tag without start tag: " << body);
      CHECK(open.back() == body.substr(1));
      open.pop_back();
      continue;
    }
    const bool self_closing = body.back() == '/';
    if (self_closing) body.pop_back();
    Tag tag;
    std::size_t p = body.find_first_of(" \n");
    tag.name = body.substr(0, p);
    while (p != std::string::npos && p < body.size()) {
      p = body.find_first_not_of(" \n", p);
      if (p == std::string::npos) break;
      const std::size_t eq = body.find('=', p);
      REQUIRE(eq != std::string::npos);
      REQUIRE(body[eq + 1] == '"');
      const std::size_t close = body.find('"', eq + 2);
      REQUIRE(close != std::string::npos);
      const std::string value = body.substr(eq + 2, close - eq - 2);
      check_entities(value);
      REQUIRE(value.find('<') == std::string::npos);
      tag.attrs[body.substr(p, eq - p)] = value;
      p = close + 1;
    }
    if (!self_closing) open.push_back(tag.name);
    tags.push_back(std::move(tag));
  }
  CHECK_MESSAGE(open.empty(), "unclosed tags remain");
  return tags;
}

std::vector<Tag> with_class(const std::vector<Tag>& tags, const std::string& cls) {
  std::vector<Tag> out;
  for (const Tag& t : tags) {
    const auto it = t.attrs.find("class");
    if (it != t.attrs.end() && it->second == cls) out.push_back(t);
  }
  return out;
}

std::string g6(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

double num(const Tag& t, const std::string& attr) { return std::stod(t.attrs.at(attr)); }

/// Two frontiers in the shape of `moesim compare`, with SLA lines at 20, 50 and 100 tok/s/user.
PlotSpec compare_like() {
  PlotSpec spec;
  spec.title = "DeepSeek-R1 1k/1k: GB200 NVL72 vs HGX H200";
  spec.x_label = "tokens/s per user";
  spec.y_label = "tokens/s per GPU";
  spec.series.push_back({"GB200 NVL72 NVFP4",
                         {12.5, 25.0, 48.0, 81.0, 140.0},
                         {7400.0, 5900.0, 3800.0, 2100.0, 820.0},
                         {"EP72 bs256", "EP72 bs128", "EP36 bs64", "TP4 EP8 bs32", "TP8 bs8"}});
  spec.series.push_back(
      {"HGX H200 FP8",
       {10.0, 22.0, 41.0, 66.0, 101.2345678},
       {2400.0, 1600.0, 1050.0, 530.0, 210.0},
       {"DP8 EP8 bs256", "DP8 EP8 bs96", "TP8 bs64", "TP8 bs16", "TP8 bs4 <MTP>"}});
  spec.vlines = {20, 50, 100};
  spec.vline_labels = {"20 tok/s/user", "50 tok/s/user", "100 tok/s/user"};
  return spec;
}

TEST_CASE("the SVG is well formed and draws every point with its exact values and label") {
  const PlotSpec spec = compare_like();
  const std::vector<Tag> tags = parse_tags(render_svg(spec));
  REQUIRE(!tags.empty());
  CHECK(tags.front().name == "svg");
  CHECK(tags.front().attrs.at("width") == "900");
  CHECK(tags.front().attrs.at("height") == "600");

  // One group per series, in order, then one circle per point in that group, in order.
  std::vector<std::string> groups;
  std::vector<Tag> circles;
  for (const Tag& t : tags) {
    if (t.name == "g" && t.attrs.count("class") && t.attrs.at("class") == "series") {
      groups.push_back(t.attrs.at("data-name"));
    }
    if (t.name == "circle" && t.attrs.count("class") && t.attrs.at("class") == "point") {
      circles.push_back(t);
    }
  }
  CHECK(groups == std::vector<std::string>{"GB200 NVL72 NVFP4", "HGX H200 FP8"});
  REQUIRE(circles.size() == 10);  // 5 + 5 points
  std::size_t k = 0;
  for (const PlotSeries& s : spec.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i, ++k) {
      CHECK(circles[k].attrs.at("data-x") == g6(s.x[i]));
      CHECK(circles[k].attrs.at("data-y") == g6(s.y[i]));
    }
  }
  // %.6g of 101.2345678 is 101.235: the attribute is the documented rounding, not the raw text.
  CHECK(circles[9].attrs.at("data-x") == "101.235");
  // The label with '<' and '>' is escaped in the attribute and in the drawn text.
  CHECK(circles[9].attrs.at("data-label") == "TP8 bs4 &lt;MTP&gt;");
  // Every labelled point has its label drawn once (plus its white halo).
  CHECK(with_class(tags, "point-label").size() == 10);
  CHECK(with_class(tags, "halo").size() == 10);
  // One polyline per series with line = true.
  int polylines = 0;
  for (const Tag& t : tags) polylines += t.name == "polyline" ? 1 : 0;
  CHECK(polylines == 2);
}

TEST_CASE("markers and labels stay inside the plot area") {
  const std::vector<Tag> tags = parse_tags(render_svg(compare_like(), 900, 600));
  // The plot area is the frame rect of the axes group: the first rect without a class.
  const Tag* frame = nullptr;
  for (const Tag& t : tags) {
    if (t.name == "rect" && !t.attrs.count("class")) {
      frame = &t;
      break;
    }
  }
  REQUIRE(frame != nullptr);
  const double x0 = num(*frame, "x"), y0 = num(*frame, "y");
  const double x1 = x0 + num(*frame, "width"), y1 = y0 + num(*frame, "height");
  for (const Tag& c : with_class(tags, "point")) {
    CHECK(num(c, "cx") >= x0);
    CHECK(num(c, "cx") <= x1);
    CHECK(num(c, "cy") >= y0);
    CHECK(num(c, "cy") <= y1);
  }
  for (const Tag& t : with_class(tags, "point-label")) {
    // The anchor (start, middle or end of the text) lies inside the plot area; the placement
    // keeps the whole estimated text box inside when any of its six positions allows.
    CHECK(num(t, "x") >= x0);
    CHECK(num(t, "x") <= x1);
    CHECK(num(t, "y") >= y0);
    CHECK(num(t, "y") <= y1);
  }
}

TEST_CASE("crowded labels that would cover other text are left out but stay in data-label") {
  // 20 labelled points 0.01 apart on an axis of about 210 over 796 px: all within 1 px, so their
  // labels cannot all fit around them without covering each other. Every circle is still drawn
  // and carries its label.
  PlotSpec spec;
  PlotSeries s{"dense", {}, {}, {}};
  for (int i = 0; i < 20; ++i) {
    s.x.push_back(100.0 + i * 0.01);
    s.y.push_back(100.0 + i * 0.01);
    s.labels.push_back("label number " + std::to_string(i));
  }
  s.x.insert(s.x.end(), {0, 200});  // two far points stretch the axes
  s.y.insert(s.y.end(), {0, 200});
  s.labels.insert(s.labels.end(), {"origin", "far"});
  spec.series.push_back(s);
  const std::string svg = render_svg(spec);
  const std::vector<Tag> tags = parse_tags(svg);
  const std::vector<Tag> points = with_class(tags, "point");
  REQUIRE(points.size() == 22);
  CHECK(points[7].attrs.at("data-label") == "label number 7");
  // The crowd shares one spot, so at most its six positions hold labels; "origin" and "far"
  // have room of their own: between 1 + 2 and 6 + 2 labels are drawn, those two among them.
  const std::vector<Tag> labels = with_class(tags, "point-label");
  CHECK(labels.size() <= 8);
  CHECK(labels.size() >= 3);
  CHECK(svg.find(">origin</text>") != std::string::npos);
  CHECK(svg.find(">far</text>") != std::string::npos);
  CHECK(labels.size() == with_class(tags, "halo").size());
}

TEST_CASE("vertical lines are drawn with their values and labels") {
  const std::vector<Tag> tags = parse_tags(render_svg(compare_like()));
  const std::vector<Tag> vlines = with_class(tags, "vline");
  REQUIRE(vlines.size() == 3);
  CHECK(vlines[0].attrs.at("data-x") == "20");
  CHECK(vlines[1].attrs.at("data-x") == "50");
  CHECK(vlines[2].attrs.at("data-x") == "100");
  CHECK(vlines[2].attrs.at("data-label") == "100 tok/s/user");
  CHECK(with_class(tags, "vline-label").size() == 3);
  // Vertical lines are ordered left to right like their values (x1 grows with the value).
  CHECK(num(vlines[0], "x1") < num(vlines[1], "x1"));
  CHECK(num(vlines[1], "x1") < num(vlines[2], "x1"));
}

TEST_CASE("titles, axis labels and series names are XML-escaped") {
  PlotSpec spec;
  spec.title = "a < b & \"c\"";
  spec.x_label = "x & y";
  spec.y_label = "<y>";
  spec.series.push_back({"s<1>&'2'", {1, 2}, {3, 4}, {"p&q", "r<s"}});
  const std::string svg = render_svg(spec);
  parse_tags(svg);  // fails on any raw '<' or '&'
  CHECK(svg.find("a &lt; b &amp; &quot;c&quot;") != std::string::npos);
  CHECK(svg.find("x &amp; y") != std::string::npos);
  CHECK(svg.find("&lt;y&gt;") != std::string::npos);
  CHECK(svg.find("data-name=\"s&lt;1&gt;&amp;&apos;2&apos;\"") != std::string::npos);
  CHECK(svg.find(">p&amp;q</text>") != std::string::npos);
  CHECK(svg.find(">r&lt;s</text>") != std::string::npos);
  CHECK(xml_escape("a\x01z") == "a?z");
}

TEST_CASE("the same spec renders to the same bytes") {
  CHECK(render_svg(compare_like()) == render_svg(compare_like()));
  CHECK(render_svg(compare_like(), 640, 480) != render_svg(compare_like()));
}

TEST_CASE("empty plots, empty series and single points render without dividing by zero") {
  const PlotSpec empty;
  CHECK(parse_tags(render_svg(empty)).front().name == "svg");

  PlotSpec spec;
  spec.series.push_back({"none", {}, {}, {}});
  spec.series.push_back({"one", {5}, {5}, {"only"}});
  const std::string svg = render_svg(spec);
  const std::vector<Tag> tags = parse_tags(svg);
  CHECK(with_class(tags, "point").size() == 1);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  // A single point at 5 gets the range 5 +- 10 % = [4.5, 5.5]: it sits in the middle.
  const AxisTicks a = nice_axis(5, 5, false);
  CHECK(a.lo == doctest::Approx(4.5));
  CHECK(a.hi == doctest::Approx(5.5));
}

TEST_CASE("non-finite points and non-positive points on a log axis are not drawn") {
  PlotSpec spec;
  spec.log_x = true;
  spec.log_y = true;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // Of the six points only (1, 10), (10, 100) and (100, 1000) are drawable: x = 0, y = -3 and
  // x = NaN are left out.
  spec.series.push_back({"s", {1, 0, 10, 5, nan, 100}, {10, 5, 100, -3, 7, 1000}, {}});
  spec.vlines = {0, 50};
  spec.vline_labels = {"zero", "fifty"};
  const std::vector<Tag> tags = parse_tags(render_svg(spec));
  const std::vector<Tag> points = with_class(tags, "point");
  REQUIRE(points.size() == 3);
  CHECK(points[0].attrs.at("data-x") == "1");
  CHECK(points[1].attrs.at("data-x") == "10");
  CHECK(points[2].attrs.at("data-x") == "100");
  const std::vector<Tag> vlines = with_class(tags, "vline");
  REQUIRE(vlines.size() == 1);  // the line at 0 cannot be drawn on a log axis
  CHECK(vlines[0].attrs.at("data-x") == "50");
  // On log axes equal ratios are equal distances: 1 -> 10 -> 100 are evenly spaced.
  CHECK(num(points[1], "cx") - num(points[0], "cx") ==
        doctest::Approx(num(points[2], "cx") - num(points[1], "cx")).epsilon(0.01));
}

TEST_CASE("a series without line draws markers only") {
  PlotSpec spec;
  spec.series.push_back({"cloud", {1, 2, 3}, {3, 1, 2}, {}, false});
  const std::vector<Tag> tags = parse_tags(render_svg(spec));
  int polylines = 0;
  for (const Tag& t : tags) polylines += t.name == "polyline" ? 1 : 0;
  CHECK(polylines == 0);
  CHECK(with_class(tags, "point").size() == 3);
  // No labels given: data-label is present and empty, and no label text is drawn.
  CHECK(with_class(tags, "point")[0].attrs.at("data-label").empty());
  CHECK(with_class(tags, "point-label").empty());
}

TEST_CASE("linear axes are padded by 5 percent, clamped at zero, with 1-2-5 ticks") {
  // Data [0, 300]: padded to [-15, 315], clamped to [0, 315]; step 315 / 6 = 52.5 -> 50.
  const AxisTicks a = nice_axis(0, 300, false);
  CHECK(a.lo == 0.0);
  CHECK(a.hi == doctest::Approx(315));
  CHECK(a.ticks == std::vector<double>{0, 50, 100, 150, 200, 250, 300});
  // Data [-1, 1]: padded to [-1.1, 1.1]; step 2.2 / 6 = 0.367 -> 0.5.
  const AxisTicks b = nice_axis(-1, 1, false);
  CHECK(b.lo == doctest::Approx(-1.1));
  REQUIRE(b.ticks.size() == 5);
  CHECK(b.ticks[0] == doctest::Approx(-1.0));
  CHECK(b.ticks[4] == doctest::Approx(1.0));
  // A single value 0 is widened by 1 on each side (no scale to take 10 % of).
  const AxisTicks c = nice_axis(0, 0, false);
  CHECK(c.lo == -1.0);
  CHECK(c.hi == 1.0);
}

TEST_CASE("log axes tick at decades, or at 1-2-5 when they span little") {
  // [1, 1000] is 3 decades, padded by 0.15 decade each side: [10^-0.15, 10^3.15].
  const AxisTicks a = nice_axis(1, 1000, true);
  CHECK(a.lo == doctest::Approx(0.7079).epsilon(1e-3));
  CHECK(a.hi == doctest::Approx(1412.5).epsilon(1e-3));
  CHECK(a.ticks == std::vector<double>{1, 10, 100, 1000});
  // [20, 300]: log10 span 1.18 decades, padded by 0.059: [17.5, 343]; only 100 is a decade, so
  // 1-2-5 ticks: 20, 50, 100, 200.
  const AxisTicks b = nice_axis(20, 300, true);
  REQUIRE(b.ticks.size() == 4);
  CHECK(b.ticks[0] == doctest::Approx(20));
  CHECK(b.ticks[3] == doctest::Approx(200));
}

TEST_CASE("render_svg rejects labels that do not match their points") {
  PlotSpec spec;
  spec.series.push_back({"s", {1, 2}, {1, 2}, {"only one"}});
  CHECK_THROWS_AS(render_svg(spec), InvariantError);
  PlotSpec lines;
  lines.vlines = {1};
  CHECK_THROWS_AS(render_svg(lines), InvariantError);
}

}  // namespace
}  // namespace moesim::study
