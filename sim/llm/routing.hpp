#pragma once
/// \file
/// MoE token routing: per engine step and MoE layer, how many of the batch's T tokens go to each
/// routed expert, sampled in O(experts) per layer, never O(tokens x k).
///
/// Model. Each token picks k DISTINCT experts. With group-limited routing (DeepSeek-V3/R1: 8
/// groups of 32 experts, 4 groups per token) a token first picks `groups_per_token` distinct
/// groups, then k / groups_per_token distinct experts in each chosen group. Tokens route
/// independently of one another and of the rank that holds them.
///
/// Inclusion probabilities. From the layer's popularity weights w (expert_popularity.hpp):
///   ungrouped: pi_e = water-fill(w, k)                       (inclusion_probabilities())
///   grouped:   rho_g = water-fill(W, tg) with W_g = sum_{e in g} w_e; inside group g,
///              pi_{e|g} = water-fill(w restricted to g, k_g), k_g = k / tg; pi_e = rho_g pi_{e|g}.
/// Without capping, pi_e = k w_e in both cases. sum pi_e = k, pi_e <= 1; inclusion() returns pi.
///
/// Designs. Each stage (the group choice, and the expert choice inside a group or among all
/// experts) draws m distinct items out of n with inclusion probabilities p (sum p = m) by one of:
///   enumerated: when m >= 2 and the uncertain items (0 < p < 1) have at most
///     kMaxEnumeratedSubsets subsets of the needed size (Mixtral: 28 pairs of 8 experts;
///     DeepSeek's group choice: 70 sets of 4 of 8 groups): conditional Poisson sampling (CPS,
///     the maximum-entropy design, Hajek 1964), P(S) proportional to prod_{i in S} r_i, with the
///     odds r fitted so that its inclusion probabilities equal p (Chen, Dempster and Liu 1994;
///     Tille, "Sampling Algorithms", 2006, sec. 5.6). The stage's token counts per subset are one
///     multinomial draw: EXACTLY the loads of T independent CPS tokens.
///   stratified (all other stages): lay the items on [0, m) in a uniformly random order, each
///     item an interval of length p_i; stratum j = [j, j + 1). A token picks exactly one item per
///     stratum, so its m items are distinct. An item straddling strata j and j + 1 is picked at
///     most once: a token that took its end piece in stratum j cannot take its start piece in
///     j + 1, and a token that did not takes it with probability b / a (b = its length in j + 1,
///     a = 1 - its length in j); every other item of a stratum is taken with probability equal to
///     its length. Per stratum that is one binomial for the start piece and sequential
///     conditional binomials for the rest: O(n) binomials plus one O(n) shuffle per step.
///     Exact: each item's count is Binomial(T, p_i); each token gets m distinct items; counts sum
///     to T m. The order is drawn once per step and shared by the step's tokens (a per-token
///     order would cost O(T n)). Because the conditional mean of every count given the order is
///     T p_i whatever the order, the first and second moments of every linear function of the
///     loads (per expert, per rank, per group, per node) are EXACTLY those of T independent
///     tokens (Cov(L_e, L_f) = T (pi_ef - pi_e pi_f), with pi_ef this design's joint inclusion
///     probability, e.g. k(k-1)/(E(E-1)) when uniform, where the design is simple random
///     sampling). Approximation: higher moments, such as the max over ranks, differ slightly,
///     since within one step two items of the same stratum never share a token.
/// The loads therefore satisfy, always: L_e ~ Binomial(T, pi_e) marginally (exact), sum L_e = T k,
/// 0 <= L_e <= T. Note the conditioning effect: the sum constraint makes loads negatively
/// correlated, so a rank holding m of E uniform experts sees Var = T k (m/E)(1 - m/E)(E-k)/(E-1),
/// below the T m pi (1 - pi) of independent binomials.
/// Modelling approximations (what real routers do that this does not): the joint choice of a
/// token's experts is the maximum-entropy (CPS) or stratified design given the marginals, not the
/// router's score correlations; a group-limited token takes exactly k / tg experts from each of
/// exactly tg groups (DeepSeek's router takes 0..k from each of its 4 groups, and can touch fewer
/// than 4), so the group rule needs tg to divide k, and a group's share of the experts is capped
/// at k_g per token (visible in inclusion() when caps bind).
///
/// References: sample_token() and sample_per_token() draw the same designs token by token, each
/// token with its own order (O(n) per token); tests compare them with the aggregated sampler.

#include <cstdint>
#include <span>
#include <vector>

#include "sim/core/rng.hpp"
#include "sim/llm/expert_popularity.hpp"
#include "sim/llm/model.hpp"

namespace moesim::llm {

/// Largest number of subsets for which a stage samples the exact CPS design by enumeration.
inline constexpr std::int64_t kMaxEnumeratedSubsets = 256;

/// The routing rule of an MoE layer: k distinct experts per token, optionally group-limited.
struct RoutingShape {
  std::int64_t num_experts = 0;        ///< E routed experts
  std::int64_t experts_per_token = 0;  ///< k
  std::int64_t num_groups = 1;  ///< G groups, contiguous blocks of E / G expert indices; 1 = none
  std::int64_t groups_per_token = 1;  ///< tg groups a token draws its experts from

  /// From a model's MoE block. A group limit that allows every group (topk_group == n_group) is
  /// no limit and gives G = 1. ConfigError (key "moe.router.n_group" / "moe.router.topk_group")
  /// when G does not divide E or tg does not divide k.
  static RoutingShape of(const MoeSpec& moe);
  /// Checks the invariants of the fields (ConfigError naming the field).
  void validate() const;
  /// Experts per group, E / G.
  std::int64_t experts_per_group() const { return num_experts / num_groups; }
  /// Experts a token takes from each chosen group, k / tg.
  std::int64_t experts_per_chosen_group() const { return experts_per_token / groups_per_token; }
};

namespace detail {
/// One sampling stage: m distinct items out of n with inclusion probabilities p (see the file
/// comment). Built by LayerRouter; exposed only for its layout.
struct RoutingStage {
  std::int64_t size = 0;                   ///< m
  std::vector<double> inclusion;           ///< p_i, sum m
  std::vector<std::int32_t> active;        ///< items with p_i > 0, in index order
  std::vector<std::int32_t> certain;       ///< items with p_i == 1
  std::vector<std::int32_t> uncertain;     ///< items with 0 < p_i < 1
  std::vector<double> odds;                ///< fitted CPS odds r of `uncertain` (same order)
  double odds_esp = 1.0;                   ///< e_{m'}(r), m' = m - |certain|
  std::vector<std::int32_t> subset_items;  ///< enumerated: m' items per subset, flattened
  std::vector<double> subset_prob;         ///< enumerated: P(subset); empty when stratified
  std::vector<double> subset_cdf;          ///< enumerated: running sum of subset_prob
  /// enumerated: P(subset s | not one of 0..s-1), for sequential conditional binomials
  std::vector<double> subset_conditional;

  bool enumerated() const { return !subset_prob.empty(); }
  std::int64_t uncertain_size() const { return size - static_cast<std::int64_t>(certain.size()); }
};
}  // namespace detail

/// Reusable buffers for sampling. After the first call for a given shape, sampling does not
/// allocate. Not shared between threads.
class RoutingScratch {
 private:
  friend class LayerRouter;
  std::vector<std::int32_t> perm_;
  std::vector<double> ends_;
  std::vector<std::int64_t> group_tokens_;
  std::vector<std::int32_t> picks_;
  std::vector<double> product_;
};

/// The routing of one MoE layer: its inclusion probabilities and samplers.
class LayerRouter {
 public:
  /// `weights` (size E, finite, >= 0, positive sum) are the layer's popularity weights.
  LayerRouter(const RoutingShape& shape, std::span<const double> weights);

  const RoutingShape& shape() const { return shape_; }
  /// pi_e: probability that a token routes to expert e; sum k, each <= 1.
  std::span<const double> inclusion() const { return inclusion_; }
  /// rho_g: probability that a token picks group g (size G; {1} when ungrouped); sum tg.
  std::span<const double> group_inclusion() const { return groups_.inclusion; }
  /// True when every stage is enumerated, i.e. the loads are exactly those of independent tokens.
  bool exact() const;

  /// Loads of one step: loads[e] = tokens (of `tokens` >= 0) routed to expert e. loads.size()
  /// == E. Aggregated, O(E) random variates (see the file comment).
  void sample(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads,
              RoutingScratch& scratch) const;
  /// As above with a temporary scratch (allocates).
  void sample(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads) const;

  /// Reference: one token's k distinct experts, in increasing order (experts.size() == k).
  void sample_token(Rng& rng, std::span<std::int64_t> experts, RoutingScratch& scratch) const;
  /// Reference: loads of `tokens` independent tokens, each from sample_token(); O(tokens x E).
  void sample_per_token(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads,
                        RoutingScratch& scratch) const;

  /// Probability that a token reaches a target (e.g. a GPU), given hit_fraction[e] in [0, 1]:
  /// the probability that the token's assignment to expert e is served at the target (1 / r for
  /// one of r replicas, 0 if the target holds no replica). Equals
  /// 1 - E[prod_{e in S} (1 - hit_fraction[e])] over the token's expert set S: exact for
  /// enumerated stages; for stratified stages the expectation is taken under CPS with the same
  /// marginals (exact when the stage is uniform, where both are simple random sampling).
  double reach_probability(std::span<const double> hit_fraction) const;
  /// As above, reusing `scratch`.
  double reach_probability(std::span<const double> hit_fraction, RoutingScratch& scratch) const;

 private:
  RoutingShape shape_;
  std::vector<double> inclusion_;
  detail::RoutingStage groups_;               ///< over the G groups (trivial when G = 1)
  std::vector<detail::RoutingStage> within_;  ///< per group, over its E / G experts
};

/// The routing of all MoE layers of a model.
class Router {
 public:
  /// One LayerRouter per MoE layer (one shared router when the popularity is the same in all).
  Router(const ExpertPopularity& popularity, const RoutingShape& shape);

  const RoutingShape& shape() const { return shape_; }
  std::int64_t num_moe_layers() const { return num_moe_layers_; }
  /// The router of MoE layer `moe_layer`, 0 <= moe_layer < num_moe_layers().
  const LayerRouter& layer(std::int64_t moe_layer) const;

  /// Loads of one engine step in every MoE layer: loads[l * E + e], size num_moe_layers() * E.
  void sample_step(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads,
                   RoutingScratch& scratch) const;

 private:
  RoutingShape shape_;
  std::int64_t num_moe_layers_ = 0;
  std::vector<LayerRouter> layers_;  ///< 1 (shared) or num_moe_layers_
};

}  // namespace moesim::llm
