#pragma once
/// \file
/// Expert popularity: for each MoE layer, a weight per routed expert saying how often the router
/// picks it. Weights are normalized to sum 1; expert e's weight times k is (before capping) the
/// expected fraction of tokens that choose e, see inclusion_probabilities(). Three sources:
///
///   uniform   w_e = 1 / E in every layer (the optimistic bound: MODELING.md, "Load imbalance is
///             first-order").
///   zipf      w_e proportional to 1 / rank(e)^s, s >= 0, rank(e) in 1..E (1 = hottest). The
///             ordering of experts by rank is either (YAML `order:`, default shuffled)
///               identity: rank(e) = e + 1 in every layer (expert 0 hottest; with contiguous
///                         placement the hottest experts share rank 0: the worst case), or
///               shuffled: in MoE layer l, rank(e) = 1 + sigma_l(e) where sigma_l is the
///                         Fisher-Yates shuffle of 0..E-1 (i = E-1 down to 1: swap i with
///                         uniform_int(i + 1)) drawn from Rng(seed, kZipfOrderStream + l);
///                         each layer has its own order, as real traces show.
///   counts    per-expert token counts from a routing trace (a file, format below), one row for
///             all layers or one row per MoE layer.
///
/// Counts file formats (the extension decides). Column / item i is expert i, the router's output
/// index. Counts are numbers >= 0 (fractions allowed, e.g. averaged traces); every row needs a
/// positive sum.
///   CSV (.csv): one row per line, fields separated by commas, blanks around fields ignored;
///     blank lines and lines starting with '#' are skipped. An optional header line comes first
///     (recognized by a first field that is not a number). With a header whose first field is
///     `layer`, every row starts with its MoE layer index (0-based among MoE layers, each index
///     exactly once, any order) followed by E counts; otherwise a row is E counts and the file
///     holds 1 row (all layers) or one row per MoE layer, in order. Example:
///       layer,e0,e1,e2,e3
///       0,120,80,40,16
///       1,64,64,64,64
///   YAML (.yaml, .yml): a map with exactly one of
///       counts: [c0, c1, ...]             # one row for all layers
///       layers: [[c0, c1, ...], [...]]    # one row per MoE layer, in order
///     and optionally `num_experts: E` (checked) and `source: "..."` (free text, provenance).
/// Errors are ConfigErrors with file:line:col, e.g. "trace.csv:7:12: row 6 field 3: expected a
/// count (a number >= 0), found "1O"", and a "did you mean" for misspelt keys or header names.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/rng.hpp"

namespace moesim::llm {

/// Base stream id of the Zipf shuffles: MoE layer l uses stream kZipfOrderStream + l.
inline constexpr std::uint64_t kZipfOrderStream = stream_id("moesim.llm.zipf_order");

/// How Zipf ranks are assigned to experts (see the file comment).
enum class ZipfOrder {
  kIdentity,  ///< rank(e) = e + 1 in every layer
  kShuffled,  ///< a seeded random order per MoE layer
};

/// Per-layer expert popularity weights. A value type; layers are indexed 0..num_moe_layers()-1
/// in the order of the model's MoE layers (DeepSeek-R1: MoE layer 0 is decoder layer 3).
class ExpertPopularity {
 public:
  /// w_e = 1/E in all `num_moe_layers` layers. num_experts >= 1, num_moe_layers >= 1.
  static ExpertPopularity uniform(std::int64_t num_experts, std::int64_t num_moe_layers);

  /// Zipf with exponent `exponent` (finite, >= 0; 0 is uniform) and the given order; `seed`
  /// picks the shuffles of ZipfOrder::kShuffled (ignored for kIdentity).
  static ExpertPopularity zipf(std::int64_t num_experts, std::int64_t num_moe_layers,
                               double exponent, ZipfOrder order, std::uint64_t seed);

  /// Explicit weights (any positive scale): `rows` holds 1 row (all layers) or num_moe_layers
  /// rows, each of num_experts finite weights >= 0 with a positive sum (asserted; files are
  /// checked with located errors by load_counts). `label` names the source in describe().
  static ExpertPopularity from_weights(std::vector<std::vector<double>> rows,
                                       std::int64_t num_moe_layers, std::string label);

  /// Reads a counts file (.csv, .yaml or .yml; format in the file comment) for a model with
  /// `num_experts` routed experts and `num_moe_layers` MoE layers. Any defect is a ConfigError
  /// naming file:line:col.
  static ExpertPopularity load_counts(const std::filesystem::path& file, std::int64_t num_experts,
                                      std::int64_t num_moe_layers);

  /// Routed experts per layer.
  std::int64_t num_experts() const { return num_experts_; }
  /// MoE layers covered.
  std::int64_t num_moe_layers() const { return num_moe_layers_; }
  /// True when every layer has the same weights (uniform, Zipf identity, a one-row file).
  bool same_for_all_layers() const { return rows_.size() == 1; }
  /// Weights of MoE layer `moe_layer` (0 <= moe_layer < num_moe_layers()), summing to 1.
  std::span<const double> weights(std::int64_t moe_layer) const;
  /// One line for reports: "uniform", "zipf(s=1.2, shuffled, seed=7)", "counts(trace.csv)".
  const std::string& describe() const { return label_; }

 private:
  ExpertPopularity(std::int64_t num_experts, std::int64_t num_moe_layers,
                   std::vector<std::vector<double>> rows, std::string label);

  std::int64_t num_experts_ = 0;
  std::int64_t num_moe_layers_ = 0;
  std::vector<std::vector<double>> rows_;  ///< 1 or num_moe_layers_ rows, each normalized
  std::string label_;
};

/// Reads a popularity from a configuration node: the scalar `uniform`, or a map
///   {kind: uniform}
///   {kind: zipf, exponent: 1.2, order: shuffled, seed: 7}   (order optional, shuffled;
///                                                           seed optional, 0; or order: identity)
///   {kind: counts, file: traces/r1.csv}   (a relative path is relative to the YAML file's folder)
/// Unknown keys and kinds are ConfigErrors with a "did you mean".
ExpertPopularity parse_popularity(const config::ConfigNode& node, std::int64_t num_experts,
                                  std::int64_t num_moe_layers);

/// Inclusion probabilities of choosing m distinct items out of n = weights.size() with the given
/// popularity weights (finite, >= 0), 1 <= m <= n: pi_i = min(1, c w_i) with c such that
/// sum pi_i = m ("water-filling": items whose share k w_i would exceed 1 are chosen by every
/// token and the excess goes to the others in proportion to their weights). When fewer than m
/// items have a positive weight, those get pi = 1 and the remaining m - P are spread evenly over
/// the zero-weight items (a token must still choose m distinct items). For a trace, pi_i is the
/// observed fraction of tokens that chose item i.
std::vector<double> inclusion_probabilities(std::span<const double> weights, std::int64_t m);

}  // namespace moesim::llm
