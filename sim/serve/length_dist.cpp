#include "sim/serve/length_dist.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "sim/core/csv.hpp"
#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"

namespace moesim::serve {

namespace {

constexpr double kInt32Max = static_cast<double>(std::numeric_limits<std::int32_t>::max());

/// Standard normal distribution function.
double phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

// ---- LengthDist ----

LengthDist LengthDist::fixed(std::int32_t n) {
  MOESIM_ASSERT(n >= 1, "a length is at least 1 token");
  LengthDist d;
  d.kind = Kind::kFixed;
  d.min = n;
  d.max = n;
  return d;
}

LengthDist LengthDist::uniform(std::int32_t lo, std::int32_t hi) {
  MOESIM_ASSERT(lo >= 1 && lo <= hi, "uniform lengths need 1 <= min <= max");
  LengthDist d;
  d.kind = Kind::kUniform;
  d.min = lo;
  d.max = hi;
  return d;
}

LengthDist LengthDist::lognormal(double mu, double sigma, std::int32_t lo,
                                 std::optional<std::int32_t> hi) {
  MOESIM_ASSERT(std::isfinite(mu) && std::isfinite(sigma) && sigma >= 0.0,
                "a lognormal needs a finite mu and a finite sigma >= 0");
  MOESIM_ASSERT(lo >= 1 && (!hi || *hi >= lo), "lognormal clamps need 1 <= min <= max");
  LengthDist d;
  d.kind = Kind::kLognormal;
  d.mu = mu;
  d.sigma = sigma;
  d.min = lo;
  if (hi) {
    d.max = *hi;
  } else {
    const double q = std::ceil(std::exp(mu + 6.0 * sigma));  // +inf when it overflows
    d.max = static_cast<std::int32_t>(std::clamp(q, static_cast<double>(lo), kInt32Max));
  }
  return d;
}

LengthDist LengthDist::empirical(const std::vector<std::int32_t>& values,
                                 const std::vector<double>& weights) {
  MOESIM_ASSERT(!values.empty() && values.size() == weights.size(),
                "an empirical length distribution needs one weight per value");
  std::vector<std::pair<std::int32_t, double>> rows;
  for (std::size_t i = 0; i < values.size(); ++i) {
    MOESIM_ASSERT(values[i] >= 1 && weights[i] >= 0.0 && std::isfinite(weights[i]),
                  "lengths >= 1 and finite weights >= 0");
    if (weights[i] > 0.0) rows.emplace_back(values[i], weights[i]);
  }
  MOESIM_ASSERT(!rows.empty(), "a total weight > 0");
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  LengthDist d;
  d.kind = Kind::kEmpirical;
  double total = 0.0;
  for (const auto& [value, weight] : rows) {
    total += weight;
    if (!d.values.empty() && d.values.back() == value) {
      d.cumulative.back() = total;
    } else {
      d.values.push_back(value);
      d.cumulative.push_back(total);
    }
  }
  d.min = d.values.front();
  d.max = d.values.back();
  return d;
}

std::int32_t LengthDist::sample(Rng& rng) const {
  switch (kind) {
    case Kind::kFixed: return min;
    case Kind::kUniform:
      return min +
             static_cast<std::int32_t>(rng.uniform_int(static_cast<std::uint64_t>(max - min) + 1));
    case Kind::kNormal: {
      // trtllm-bench token-norm-dist: max(1, ceil(x)), x ~ N(mean, stdev).
      const double x = std::ceil(rng.normal(mean, stdev));
      return static_cast<std::int32_t>(std::clamp(x, 1.0, kInt32Max));
    }
    case Kind::kLognormal: {
      // exp of a normal, rounded to whole tokens and clamped (in double, so that a huge draw
      // cannot overflow the integer).
      const double x = std::round(std::exp(rng.normal(mu, sigma)));
      return static_cast<std::int32_t>(
          std::clamp(x, static_cast<double>(min), static_cast<double>(max)));
    }
    case Kind::kEmpirical: {
      // The first value whose cumulative weight exceeds u in [0, total). u * total may round
      // up to total itself: that draw takes the last value.
      const double u = rng.uniform() * cumulative.back();
      const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
      const auto i = std::min(static_cast<std::size_t>(it - cumulative.begin()), values.size() - 1);
      return values[i];
    }
  }
  return min;
}

double LengthDist::expected() const {
  switch (kind) {
    case Kind::kFixed:
    case Kind::kUniform: return 0.5 * (static_cast<double>(min) + static_cast<double>(max));
    case Kind::kNormal: return mean;
    case Kind::kLognormal: {
      // E[clamp(X, a, b)] for ln X ~ N(mu, sigma), with alpha = (ln a - mu) / sigma and
      // beta = (ln b - mu) / sigma:
      //   a Phi(alpha) + exp(mu + sigma^2 / 2) (Phi(beta - sigma) - Phi(alpha - sigma))
      //   + b (1 - Phi(beta)),
      // the middle term being the partial expectation E[X; a < X < b] of the lognormal.
      const double a = static_cast<double>(min);
      const double b = static_cast<double>(max);
      if (sigma == 0.0) return std::clamp(std::exp(mu), a, b);
      const double alpha = (std::log(a) - mu) / sigma;
      const double beta = (std::log(b) - mu) / sigma;
      return a * phi(alpha) +
             std::exp(mu + 0.5 * sigma * sigma) * (phi(beta - sigma) - phi(alpha - sigma)) +
             b * (1.0 - phi(beta));
    }
    case Kind::kEmpirical: {
      double sum = 0.0;
      double below = 0.0;
      for (std::size_t i = 0; i < values.size(); ++i) {
        sum += static_cast<double>(values[i]) * (cumulative[i] - below);
        below = cumulative[i];
      }
      return sum / cumulative.back();
    }
  }
  return static_cast<double>(min);
}

std::int32_t LengthDist::upper_bound() const {
  if (kind != Kind::kNormal) return max;
  const double hi = std::ceil(mean + 6.0 * stdev);
  return static_cast<std::int32_t>(std::clamp(hi, 1.0, kInt32Max));
}

// ---- parsing ----

std::filesystem::path path_beside(const config::ConfigNode& node, const std::string& text) {
  std::filesystem::path p(text);
  if (p.is_absolute()) return p;
  const std::filesystem::path origin(node.location().file);
  if (origin.has_parent_path() && std::filesystem::exists(origin)) {
    return origin.parent_path() / p;
  }
  return p;
}

namespace {

std::int32_t read_tokens(const config::ConfigNode& node) {
  const std::int64_t v = node.as_int();
  if (v < 1 || v > std::numeric_limits<std::int32_t>::max()) {
    node.fail("a token count from 1 to 2147483647");
  }
  return static_cast<std::int32_t>(v);
}

LengthDist read_lognormal(const config::ConfigNode& node) {
  node.check_keys({"dist", "mean", "stdev", "p50", "p90", "min", "max"});
  const bool moments = node.has("mean") || node.has("stdev");
  const bool quantiles = node.has("p50") || node.has("p90");
  if (moments && quantiles) {
    node.at(node.has("p50") ? "p50" : "p90")
        .fail("either mean and stdev, or p50 and p90, not both", "both forms");
  }
  if (!moments && !quantiles) {
    node.fail("a lognormal given by {mean, stdev} or by {p50, p90}");
  }
  double mu = 0.0;
  double sigma = 0.0;
  if (moments) {
    // Moments of the token count X = exp(N(mu, sigma)): E[X] = exp(mu + sigma^2 / 2) and
    // Var[X] = (exp(sigma^2) - 1) E[X]^2, solved for sigma and mu.
    const config::ConfigNode m = node.at("mean");
    const config::ConfigNode s = node.at("stdev");
    const double mean = m.as_double();
    const double stdev = s.as_double();
    if (mean < 1.0) m.fail("a mean of at least 1 token");
    if (stdev < 0.0) s.fail("a standard deviation >= 0");
    const double sigma2 = std::log1p((stdev / mean) * (stdev / mean));
    sigma = std::sqrt(sigma2);
    mu = std::log(mean) - 0.5 * sigma2;
  } else {
    // Quantiles: median exp(mu); 90th percentile exp(mu + z90 sigma).
    const config::ConfigNode p50 = node.at("p50");
    const config::ConfigNode p90 = node.at("p90");
    const double median = p50.as_double();
    const double q90 = p90.as_double();
    if (median < 1.0) p50.fail("a median of at least 1 token");
    if (!(q90 >= median)) p90.fail("a 90th percentile >= p50 (" + p50.as_string() + ")");
    mu = std::log(median);
    sigma = (std::log(q90) - mu) / kNormalQuantile90;
  }
  std::int32_t lo = 1;
  if (const auto n = node.get("min")) lo = read_tokens(*n);
  std::optional<std::int32_t> hi;
  if (const auto n = node.get("max")) {
    hi = read_tokens(*n);
    if (*hi < lo) n->fail("max >= min (" + std::to_string(lo) + ")");
  }
  return LengthDist::lognormal(mu, sigma, lo, hi);
}

}  // namespace

LengthDist parse_length(const config::ConfigNode& node) {
  if (node.is_scalar()) return LengthDist::fixed(read_tokens(node));
  if (!node.is_map()) {
    node.fail("a token count or a map {dist: uniform|normal|lognormal|empirical, ...}");
  }
  const std::string dist =
      node.at("dist").as_choice({"fixed", "uniform", "normal", "lognormal", "empirical"});
  if (dist == "fixed") {
    node.check_keys({"dist", "value"});
    return LengthDist::fixed(read_tokens(node.at("value")));
  }
  if (dist == "uniform") {
    node.check_keys({"dist", "min", "max"});
    const std::int32_t lo = read_tokens(node.at("min"));
    const std::int32_t hi = read_tokens(node.at("max"));
    if (hi < lo) node.at("max").fail("max >= min (" + std::to_string(lo) + ")");
    return LengthDist::uniform(lo, hi);
  }
  if (dist == "lognormal") return read_lognormal(node);
  if (dist == "empirical") {
    node.check_keys({"dist", "file"});
    const config::ConfigNode file = node.at("file");
    const std::filesystem::path path = path_beside(file, file.as_string());
    if (!std::filesystem::is_regular_file(path)) {
      file.fail("a CSV file of lengths (relative to the YAML file)",
                "\"" + path.string() + "\": no such file");
    }
    return read_length_csv(path, file.key_path());
  }
  node.check_keys({"dist", "mean", "stdev"});
  LengthDist d;
  d.kind = LengthDist::Kind::kNormal;
  d.mean = node.at("mean").as_double();
  d.stdev = node.at("stdev").as_double();
  if (d.mean < 1.0) node.at("mean").fail("a mean of at least 1 token");
  if (d.stdev < 0.0) node.at("stdev").fail("a standard deviation >= 0");
  d.min = 1;
  d.max = d.upper_bound();
  return d;
}

// ---- empirical CSV ----

LengthDist read_length_csv(const std::filesystem::path& path, const std::string& key_path) {
  CsvTable t;
  try {
    t = read_csv(path);
  } catch (const ConfigError& e) {
    // The CSV reader names the file and the line; add the key that named the file.
    throw ConfigError(e.where(), key_path, e.expected(), e.found(), e.suggestion());
  }
  const std::vector<std::string> known = {"tokens", "weight"};
  for (std::size_t i = 0; i < t.header.size(); ++i) {
    const std::string& h = t.header[i];
    const SourceLocation at{t.file, t.header_line, static_cast<int>(i) + 1};
    if (std::find(known.begin(), known.end(), h) == known.end()) {
      throw ConfigError(at, key_path + ".header", "a column among tokens, weight", "\"" + h + "\"",
                        closest_match(h, known));
    }
    if (t.column(h) != static_cast<int>(i)) {
      throw ConfigError(at, key_path + ".header", "each column once", "\"" + h + "\" again");
    }
  }
  const int col_tokens = t.column("tokens");
  const int col_weight = t.column("weight");
  if (col_tokens < 0) {
    std::string columns;
    for (const std::string& h : t.header) columns += (columns.empty() ? "" : ", ") + h;
    throw ConfigError({t.file, t.header_line, 1}, key_path + ".header",
                      "a column 'tokens' (and optionally 'weight')", "columns " + columns);
  }
  if (t.rows.empty()) {
    throw ConfigError({t.file, t.header_line, 0}, key_path, "at least one row of lengths",
                      "a header only");
  }
  std::vector<std::int32_t> values;
  std::vector<double> weights;
  double total = 0.0;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& s = t.rows[r][static_cast<std::size_t>(col_tokens)];
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || v < 1 ||
        v > std::numeric_limits<std::int32_t>::max()) {
      throw ConfigError(t.where(r, col_tokens), key_path + ".tokens",
                        "a whole token count from 1 to 2147483647", "\"" + s + "\"");
    }
    double w = 1.0;
    if (col_weight >= 0) {
      const std::string& ws = t.rows[r][static_cast<std::size_t>(col_weight)];
      const auto [wp, wec] = std::from_chars(ws.data(), ws.data() + ws.size(), w);
      if (wec != std::errc{} || wp != ws.data() + ws.size() || !std::isfinite(w) || w < 0.0) {
        throw ConfigError(t.where(r, col_weight), key_path + ".weight", "a relative weight >= 0",
                          "\"" + ws + "\"");
      }
    }
    values.push_back(static_cast<std::int32_t>(v));
    weights.push_back(w);
    total += w;
  }
  if (!(total > 0.0)) {
    throw ConfigError({t.file, t.lines.back(), 0}, key_path + ".weight", "a total weight > 0",
                      "all " + std::to_string(t.rows.size()) + " weights zero");
  }
  if (!std::isfinite(total)) {
    throw ConfigError({t.file, t.lines.back(), 0}, key_path + ".weight",
                      "weights with a finite sum", "a sum that overflows");
  }
  return LengthDist::empirical(values, weights);
}

}  // namespace moesim::serve
