#pragma once
/// \file
/// Distributions of request lengths (input or output tokens) for a workload class, and their
/// YAML forms (the LENGTH of a class's `isl` and `osl`):
///
///   1024                                       fixed
///   {dist: uniform, min: 800, max: 1200}       integers in [min, max], inclusive
///   {dist: normal, mean: 1000, stdev: 100}     max(1, ceil(x)), x ~ N(mean, stdev)
///   {dist: lognormal, mean: 3653, stdev: 4000, max: 32768}
///   {dist: lognormal, p50: 2000, p90: 8000, min: 16, max: 32768}
///   {dist: empirical, file: lengths.csv}       a histogram or a list of lengths
///
/// uniform and normal follow trtllm-bench's synthetic datasets (NVIDIA/TensorRT-LLM
/// benchmarks/cpp/utils/utils.py, prepare_dataset.py token-unif-dist / token-norm-dist).
///
/// lognormal: ln(length) is normal with mean mu and standard deviation sigma; a draw is
/// max(min, min(max, round(exp(x)))), x ~ N(mu, sigma). It is given either by
///   mean, stdev   the mean and the standard deviation of the token count itself (not of its
///                 log): sigma^2 = ln(1 + stdev^2 / mean^2), mu = ln(mean) - sigma^2 / 2;
///   p50, p90      the median and the 90th percentile of the token count:
///                 mu = ln(p50), sigma = (ln(p90) - ln(p50)) / z90, z90 = 1.2815515655446004
///                 (the standard normal's 0.9 quantile);
/// with optional clamps `min` (default 1) and `max` (default the exp(mu + 6 sigma) quantile,
/// which about one draw in 10^9 exceeds). A clamp moves the mean away from the `mean` asked
/// for; expected() gives the clamped mean. Real chat and reasoning traffic has such long output
/// tails: TensorRT-LLM's tech blog 10 (NVIDIA/TensorRT-LLM docs/source/blogs/tech_blog/
/// blog10_ADP_Balance_Strategy.md) serves a 16,000-request dataset with mean ISL 803 and mean
/// OSL 3,653 whose outputs follow "a pronounced long-tail distribution"; uniform and normal
/// lengths understate how unequal the sequences of one batch are.
///
/// empirical: the lengths of a CSV file (a path relative to the YAML file). Its header names
/// the columns:
///   tokens   required, an integer >= 1 per row: a length (or the value of a length bin)
///   weight   optional, a number >= 0: the row's relative share (default 1)
/// Without `weight`, the file is a plain list of observed lengths, one sample per row. A draw
/// picks a row with probability weight / total weight (rows of one length add up).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/rng.hpp"

namespace moesim::serve {

/// The standard normal's 0.9 quantile, z with Phi(z) = 0.9.
inline constexpr double kNormalQuantile90 = 1.2815515655446004;

/// A distribution of token counts (>= 1).
struct LengthDist {
  enum class Kind : std::uint8_t { kFixed, kUniform, kNormal, kLognormal, kEmpirical };
  Kind kind = Kind::kFixed;
  std::int32_t min = 1;  ///< fixed: the value; uniform, lognormal: the least value
  std::int32_t max = 1;  ///< fixed: the value; uniform, lognormal: the greatest value (inclusive)
  double mean = 0.0;     ///< normal only
  double stdev = 0.0;    ///< normal only
  double mu = 0.0;       ///< lognormal: mean of ln(length)
  double sigma = 0.0;    ///< lognormal: standard deviation of ln(length), >= 0
  /// empirical: the distinct lengths, increasing.
  std::vector<std::int32_t> values;
  /// empirical: cumulative weight up to and including each value, increasing, last = total.
  std::vector<double> cumulative;

  /// A fixed length n >= 1.
  static LengthDist fixed(std::int32_t n);
  /// Uniform integers in [lo, hi], 1 <= lo <= hi.
  static LengthDist uniform(std::int32_t lo, std::int32_t hi);
  /// Lognormal: ln(length) ~ N(mu, sigma), sigma >= 0, rounded and clamped to [lo, hi]
  /// (1 <= lo <= hi); hi absent: the exp(mu + 6 sigma) quantile, at least lo, at most 2^31 - 1.
  static LengthDist lognormal(double mu, double sigma, std::int32_t lo = 1,
                              std::optional<std::int32_t> hi = std::nullopt);
  /// Empirical: length values[i] >= 1 with weight weights[i] >= 0, total weight > 0 (same
  /// sizes, not empty). Zero-weight values are dropped, equal values merged.
  static LengthDist empirical(const std::vector<std::int32_t>& values,
                              const std::vector<double>& weights);

  /// One draw (fixed: no draw; uniform: one uniform_int; normal, lognormal: one normal();
  /// empirical: one uniform() and a binary search of the cumulative weights).
  std::int32_t sample(Rng& rng) const;
  /// The expected value. normal: mean, ignoring the clamp at 1. lognormal: the mean of the
  /// clamped continuous variable, E[min(max, max(min, exp(x)))] in closed form (rounding to
  /// whole tokens shifts it by well under a token); without a binding clamp that is
  /// exp(mu + sigma^2 / 2), the `mean` asked for. empirical: the weighted mean.
  double expected() const;
  /// The largest value a draw can take; for normal, mean + 6 stdev rounded up (a bound used only
  /// for configuration checks); empirical: the largest length in the file.
  std::int32_t upper_bound() const;
};

/// `text` as a path: as is when absolute, else relative to the folder of the YAML file that
/// holds `node` (relative to the working directory when that file is not on disk).
std::filesystem::path path_beside(const config::ConfigNode& node, const std::string& text);

/// Parses a LENGTH (see the file comment). An `empirical` file is read now; its path is
/// resolved with path_beside(). Every error is a ConfigError naming the key.
LengthDist parse_length(const config::ConfigNode& node);

/// Reads an empirical length CSV (see the file comment). `key_path` names the YAML key that
/// gave the file ("osl.file"), for messages. Errors are ConfigErrors at the CSV's file, 1-based
/// line and column, with the key path extended by the column ("osl.file.tokens").
LengthDist read_length_csv(const std::filesystem::path& path, const std::string& key_path);

}  // namespace moesim::serve
