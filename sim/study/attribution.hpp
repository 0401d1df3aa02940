#pragma once
/// \file
/// Attribution of a deployment gap to its factors: from a baseline (by default HGX H200, the FP8
/// checkpoint, TP8 or EP8 inside one server, aggregated serving, no MTP, the SGLang stack) to a
/// target (GB200 NVL72, NVFP4 weights, wide expert parallelism, disaggregated serving allowed,
/// MTP, the TensorRT-LLM stack), how much each change contributes to output tokens/s per GPU and
/// to $ per million output tokens at a given interactivity (tokens/s per user).
///
/// A factor is one dimension of the deployment space:
///   - system, precision and stack substitute one value for another (baseline or target);
///   - parallelism, serving and mtp widen the space the best deployment is chosen from: the
///     baseline allows TP8 (EP 1 or 8) and ADP8 EP8 only (one 8-GPU server; the decode pool of
///     a disaggregated deployment ADP8 EP8), aggregated serving only and no draft tokens; the
///     target allows every plan, disaggregation and MTP of the attribution's SweepSpace.
/// For each subset S of the factors (2^n of them), the deployment space with S at its target
/// values is searched again: v(S, L) is the best tokens/s per GPU among simulated points at or
/// above L tokens/s per user (the frontier at L), and its $ per million tokens is that point's.
/// So each factor is a ratio of frontiers, not of one fixed deployment.
///
/// Reported per level L:
///   - the waterfall: the factors added one at a time in the stated order, each as the ratio
///     v(S + f) / v(S) (for cost, cost(S) / cost(S + f): how many times cheaper);
///   - the Shapley attribution, order-independent: factor f's share of ln v(all) - ln v(none),
///     the average over the n! orders of the log-ratio it adds (Shapley, "A value for n-person
///     games", 1953), exponentiated: the factors multiply to the total ratio;
///   - the software-only ratios (every factor but system, on the baseline and the target system)
///     and the smallest subsets reaching a claimed ratio (the vendors' 10x throughput and cost per
///     token, 2.8x from software alone; see claim_table()).
/// A level some subset cannot reach leaves the attributions that need that subset undefined
/// ('-'), which the report says.
///
/// Simulations: one sweep (sim/study/sweep.hpp) per combination of the substituted factors'
/// values (at most 8), over the target space; the widening factors select points from it. The
/// sweeps are those of `moesim sweep` (same scenario YAML per point), so each number can be
/// re-run alone.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/study/sweep.hpp"
#include "sim/study/table.hpp"

namespace moesim::study {

/// A dimension of the deployment space that the attribution changes.
enum class Factor { kSystem, kPrecision, kParallelism, kServing, kMtp, kStack };

/// Every factor, in the default waterfall order.
inline constexpr std::array<Factor, 6> kAllFactors{Factor::kSystem,      Factor::kPrecision,
                                                   Factor::kParallelism, Factor::kServing,
                                                   Factor::kMtp,         Factor::kStack};

/// "system", "precision", "parallelism", "serving", "mtp", "stack".
std::string_view factor_name(Factor f);
/// The factor named `name` (as factor_name), nullopt when none is.
std::optional<Factor> parse_factor(std::string_view name);

/// What to attribute. Index 0 of each pair is the baseline, 1 the target.
struct AttributionSetup {
  SweepBase base;  ///< model, isl, osl, price sheet, seed (system, precision, stack: below)
  std::array<std::string, 2> system{"hgx-h200", "gb200-nvl72"};
  /// YAML flow maps as SweepBase::precision (empty: the checkpoint's formats).
  std::array<std::string, 2> precision{"{weights: checkpoint, kv_cache: fp8}",
                                       "{weights: nvfp4, kv_cache: fp8}"};
  /// Stack names or paths (empty: the system's default stack).
  std::array<std::string, 2> stack{"sglang", "trtllm"};
  /// The factors to attribute, in waterfall order. A factor left out stays at its target value;
  /// system, precision and stack whose two values are equal are dropped (see factors()).
  std::vector<Factor> order{kAllFactors.begin(), kAllFactors.end()};
  std::vector<double> levels{20.0, 50.0, 100.0};  ///< tokens/s per user
  SweepSpace space = default_space();             ///< the target's deployment space

  /// The space of `moesim attribute`: compare's quick space (SweepSpace::quick()) plus
  /// disaggregated serving at 1:1 and 1:2 with ADP8 and the widest ADP width inside a domain
  /// as decode pools.
  static SweepSpace default_space();
  /// The factors that vary: `order` without substituted factors whose values are equal.
  std::vector<Factor> factors() const;
};

/// The best point of one subset at one level.
struct SubsetBest {
  double tok_s_per_gpu = 0.0;
  std::optional<double> usd_per_mtok;
  std::string deployment;  ///< the point's label (deployment and concurrency)
};

/// One step of a waterfall, or one factor's Shapley share.
struct FactorShare {
  Factor factor = Factor::kSystem;
  double throughput = 0.0;          ///< multiplies tokens/s per GPU
  std::optional<double> cost;       ///< divides $ per million tokens (none without prices)
  std::optional<SubsetBest> after;  ///< waterfall only: the best point once the factor is added
};

/// A finished attribution.
struct AttributionResult {
  AttributionSetup setup;
  std::vector<Factor> factors;  ///< varying factors, in waterfall order
  /// The sweeps, one per combination of the substituted factors' values.
  std::vector<SweepResult> sweeps;
  /// best[level][mask]: the best point of the subset whose bit i is factors[i] (nullopt where no
  /// point of that subset reaches the level).
  std::vector<std::vector<std::optional<SubsetBest>>> best;

  std::uint32_t full_mask() const { return (1u << factors.size()) - 1u; }
  /// The waterfall at level index `l` in factor order; nullopt when a subset on its path cannot
  /// reach the level.
  std::optional<std::vector<FactorShare>> waterfall(std::size_t l) const;
  /// The Shapley attribution at level index `l` in factor order; nullopt when some subset
  /// cannot reach the level.
  std::optional<std::vector<FactorShare>> shapley(std::size_t l) const;
};

/// Progress of the sweeps: sweep index, sweep count, and the sweep's own progress.
using AttributionProgress =
    std::function<SweepProgress(std::size_t sweep, std::size_t sweeps, const std::string& what)>;

/// Runs the sweeps and finds each subset's best point at each level. A bad setup (unknown
/// system, precision the model cannot take, no factor to attribute, a level <= 0) is a
/// ConfigError.
AttributionResult run_attribution(const AttributionSetup& setup, const config::Catalog& catalog,
                                  const SweepOptions& options = {},
                                  const AttributionProgress& progress = {});

/// Per level and factor: the change, its waterfall factor and the point after it, and its
/// Shapley factor; one "total" row per level with the baseline and target points.
Table attribution_table(const AttributionResult& r);

/// Per level: the vendors' claims (10x throughput per GPU and 10x lower cost per token for the
/// whole change, when the two systems differ; 2.8x per GPU from software alone, on each system)
/// against the simulator's ratio, whether it holds, and the smallest subset of factors reaching
/// the claimed ratio.
Table claim_table(const AttributionResult& r);

/// Every subset's best point per level (mask, factors at target, tok/s per GPU, $/Mtok,
/// deployment).
Table subset_table(const AttributionResult& r);

/// The whole result as one JSON document (setup, factors, per level: baseline, target, ratios,
/// waterfall, Shapley, claims; every subset).
std::string attribution_json(const AttributionResult& r);

/// An SVG waterfall of tokens/s per GPU, one panel per level: the baseline bar, one floating
/// bar per factor (its waterfall ratio on a log axis) and the target bar, each labelled.
std::string attribution_svg(const AttributionResult& r);

/// What each factor's two values are, e.g. "hgx-h200 -> gb200-nvl72" or
/// "TP8/EP8 in one server -> wide EP".
std::string describe_change(const AttributionSetup& setup, Factor f);

}  // namespace moesim::study
