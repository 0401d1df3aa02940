// Tests of expert popularity, inclusion probabilities and the routing samplers.
//
// Statistical checks use fixed seeds and N independent draws; a sample mean is compared with its
// analytic value within kZ standard errors (kZ = 5: a false alarm has probability 6e-7 per
// comparison, so even the 512 comparisons of a per-expert sweep fail by chance with probability
// below 3e-4, while the seeds make every run identical).

#include "sim/llm/routing.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/llm/expert_popularity.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/placement.hpp"

namespace moesim::llm {
namespace {

constexpr double kZ = 5.0;

/// Running mean and variance (Welford).
struct Moments {
  double n = 0.0;
  double mean = 0.0;
  double m2 = 0.0;
  void add(double x) {
    n += 1.0;
    const double d = x - mean;
    mean += d / n;
    m2 += d * (x - mean);
  }
  double variance() const { return m2 / (n - 1.0); }
  double standard_error() const { return std::sqrt(variance() / n); }
};

std::string routing_fixture(const std::string& name) {
  return std::string{MOESIM_TEST_DATA_DIR} + "/routing/" + name;
}

std::string error_of(const auto& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

/// DeepSeek-V3/R1 routing: 256 experts, top-8, 8 groups of 32, 4 groups per token
/// (models/deepseek-r1.yaml).
const RoutingShape kDeepSeek{256, 8, 8, 4};
/// The same experts without the group limit.
const RoutingShape kFlat256{256, 8, 1, 1};

/// Zipf(s) weights over n experts in a fixed shuffled order.
std::vector<double> zipf_weights(std::int64_t n, double s) {
  const ExpertPopularity pop = ExpertPopularity::zipf(n, 1, s, ZipfOrder::kShuffled, 11);
  return {pop.weights(0).begin(), pop.weights(0).end()};
}

TEST_CASE("water-filling gives inclusion probabilities that sum to k and cap at one") {
  // weights 8,4,2,1,1 (sum 16), m = 2: c = 2/16 gives expert 0 a share 8c = 1, so it is capped
  // at 1; the other 8 of weight share the remaining 1: c = 1/8 -> 0.5, 0.25, 0.125, 0.125.
  const std::vector<double> w{8, 4, 2, 1, 1};
  const std::vector<double> pi = inclusion_probabilities(w, 2);
  CHECK(pi[0] == doctest::Approx(1.0));
  CHECK(pi[1] == doctest::Approx(0.5));
  CHECK(pi[2] == doctest::Approx(0.25));
  CHECK(pi[3] == doctest::Approx(0.125));
  CHECK(pi[4] == doctest::Approx(0.125));
  // 100,1,1,1 with m = 2: expert 0 capped, the other 1 spread evenly over 3 equal weights.
  const std::vector<double> skew = inclusion_probabilities(std::vector<double>{100, 1, 1, 1}, 2);
  CHECK(skew[0] == 1.0);
  CHECK(skew[1] == doctest::Approx(1.0 / 3.0));
  // One positive weight for m = 2: it gets 1 and the other 1 spreads over the 3 zero weights.
  const std::vector<double> few = inclusion_probabilities(std::vector<double>{0, 5, 0, 0}, 2);
  CHECK(few[1] == 1.0);
  CHECK(few[0] == doctest::Approx(1.0 / 3.0));
  CHECK(few[3] == doctest::Approx(1.0 / 3.0));
}

TEST_CASE("Zipf popularity follows 1/rank^s, identity order or a seeded shuffle per layer") {
  const ExpertPopularity id = ExpertPopularity::zipf(16, 3, 1.5, ZipfOrder::kIdentity, 0);
  CHECK(id.same_for_all_layers());
  // w_0 / w_3 = (4 / 1)^1.5 = 8.
  CHECK(id.weights(2)[0] / id.weights(2)[3] == doctest::Approx(8.0));
  CHECK(std::accumulate(id.weights(0).begin(), id.weights(0).end(), 0.0) == doctest::Approx(1.0));
  const ExpertPopularity sh = ExpertPopularity::zipf(16, 3, 1.5, ZipfOrder::kShuffled, 7);
  CHECK_FALSE(sh.same_for_all_layers());
  // Each layer is a permutation of the identity weights; the layers' orders differ.
  std::vector<double> sorted_id(id.weights(0).begin(), id.weights(0).end());
  for (std::int64_t l = 0; l < 3; ++l) {
    std::vector<double> w(sh.weights(l).begin(), sh.weights(l).end());
    std::sort(w.begin(), w.end(), std::greater<>());
    for (std::size_t i = 0; i < w.size(); ++i) CHECK(w[i] == doctest::Approx(sorted_id[i]));
  }
  CHECK(std::vector<double>(sh.weights(0).begin(), sh.weights(0).end()) !=
        std::vector<double>(sh.weights(1).begin(), sh.weights(1).end()));
  // The same seed gives the same order.
  const ExpertPopularity again = ExpertPopularity::zipf(16, 3, 1.5, ZipfOrder::kShuffled, 7);
  CHECK(std::equal(again.weights(1).begin(), again.weights(1).end(), sh.weights(1).begin()));
  CHECK(sh.describe() == "zipf(s=1.5, shuffled, seed=7)");
}

TEST_CASE("counts files load per layer or for all layers, in CSV and YAML") {
  const ExpertPopularity csv =
      ExpertPopularity::load_counts(routing_fixture("counts_per_layer.csv"), 4, 3);
  // Layer 0 is the row "0, 120, 80, 40, 16" (sum 256), whatever its place in the file.
  CHECK(csv.weights(0)[0] == doctest::Approx(120.0 / 256.0));
  CHECK(csv.weights(1)[3] == doctest::Approx(0.4));  // 4 / (1 + 2 + 3 + 4)
  CHECK(csv.weights(2)[1] == doctest::Approx(0.25));
  const ExpertPopularity yaml = ExpertPopularity::load_counts(routing_fixture("counts.yaml"), 4, 3);
  for (std::int64_t l = 0; l < 3; ++l) {
    for (std::size_t e = 0; e < 4; ++e) CHECK(yaml.weights(l)[e] == csv.weights(l)[e]);
  }
  const ExpertPopularity one =
      ExpertPopularity::load_counts(routing_fixture("counts_all_layers.csv"), 4, 3);
  CHECK(one.same_for_all_layers());
  CHECK(one.weights(2)[3] == doctest::Approx(0.5));  // 4 / (3 + 1 + 0 + 4)
  CHECK(one.weights(1)[2] == 0.0);
}

TEST_CASE("a bad counts file is an error naming its line, column and a likely fix") {
  const std::string field =
      error_of([] { (void)ExpertPopularity::load_counts(routing_fixture("bad_field.csv"), 4, 3); });
  // "1,5,1O,7,8" is on line 3; "1O" starts at column 5.
  CHECK(field.find("bad_field.csv:3:5:") != std::string::npos);
  CHECK(field.find("expected a count (a number >= 0), found \"1O\"") != std::string::npos);
  const std::string header = error_of(
      [] { (void)ExpertPopularity::load_counts(routing_fixture("bad_header.csv"), 4, 3); });
  CHECK(header.find("bad_header.csv:1:1:") != std::string::npos);
  CHECK(header.find("did you mean 'layer'?") != std::string::npos);
  const std::string rows =
      error_of([] { (void)ExpertPopularity::load_counts(routing_fixture("bad_rows.csv"), 4, 3); });
  CHECK(rows.find("expected 1 row (all layers) or 3 rows (one per MoE layer), found 2 rows") !=
        std::string::npos);
  const std::string key =
      error_of([] { (void)ExpertPopularity::load_counts(routing_fixture("bad_key.yaml"), 4, 3); });
  CHECK(key.find("bad_key.yaml:1:1:") != std::string::npos);
  CHECK(key.find("did you mean 'counts'?") != std::string::npos);
  const std::string width =
      error_of([] { (void)ExpertPopularity::load_counts(routing_fixture("counts.yaml"), 5, 3); });
  CHECK(width.find("expected the model's 5 routed experts") != std::string::npos);
}

TEST_CASE("a popularity is read from a configuration node with did-you-mean errors") {
  const auto parse = [](const char* text) {
    return parse_popularity(config::ConfigNode::parse(text, "scenario.yaml").at("popularity"), 16,
                            2);
  };
  CHECK(parse("popularity: uniform").describe() == "uniform");
  CHECK(parse("popularity: {kind: zipf, exponent: 1.2, order: shuffled, seed: 3}").describe() ==
        "zipf(s=1.2, shuffled, seed=3)");
  CHECK(error_of([&] { (void)parse("popularity: {kind: zipff}"); }).find("did you mean 'zipf'?") !=
        std::string::npos);
  CHECK(error_of([&] {
          (void)parse("popularity: {kind: zipf, exponnt: 1, order: identity}");
        }).find("did you mean 'exponent'?") != std::string::npos);
  CHECK(error_of([&] {
          (void)parse("popularity: {kind: counts, file: nowhere.csv}");
        }).find("an existing counts file") != std::string::npos);
  const std::string yaml =
      "popularity: {kind: counts, file: " + routing_fixture("counts_all_layers.csv") + "}";
  CHECK(parse_popularity(config::ConfigNode::parse(yaml, "s.yaml").at("popularity"), 4, 3)
            .describe() == "counts(counts_all_layers.csv)");
}

TEST_CASE("the routing shape comes from the model card's router") {
  const config::Catalog catalog(MOESIM_SOURCE_DIR);
  const RoutingShape r1 = RoutingShape::of(*load_model(catalog, "deepseek-r1").moe);
  CHECK(r1.num_experts == 256);
  CHECK(r1.experts_per_token == 8);
  CHECK(r1.num_groups == 8);
  CHECK(r1.groups_per_token == 4);
  CHECK(r1.experts_per_chosen_group() == 2);
  const RoutingShape mixtral = RoutingShape::of(*load_model(catalog, "mixtral-8x7b").moe);
  CHECK(mixtral.num_groups == 1);
  CHECK(mixtral.experts_per_token == 2);
  // topk_group 3 does not divide k = 8.
  const RoutingShape bad{256, 8, 8, 3};
  CHECK(error_of([&] { bad.validate(); }).find("moe.router.topk_group") != std::string::npos);
}

TEST_CASE("sampled loads sum to T k, never exceed T and are reproducible") {
  const std::vector<RoutingShape> shapes{
      kDeepSeek, kFlat256, {8, 2, 1, 1}, {128, 1, 1, 1}, {64, 4, 4, 2}};
  for (const RoutingShape& shape : shapes) {
    for (double s : {0.0, 1.0, 2.0}) {
      const LayerRouter router(shape, zipf_weights(shape.num_experts, s));
      CHECK(std::accumulate(router.inclusion().begin(), router.inclusion().end(), 0.0) ==
            doctest::Approx(static_cast<double>(shape.experts_per_token)));
      Rng rng(3, 1);
      RoutingScratch scratch;
      std::vector<std::int64_t> loads(static_cast<std::size_t>(shape.num_experts));
      for (std::int64_t tokens : {0, 1, 7, 64, 4096}) {
        for (int draw = 0; draw < 50; ++draw) {
          router.sample(tokens, rng, loads, scratch);
          CHECK(std::accumulate(loads.begin(), loads.end(), std::int64_t{0}) ==
                tokens * shape.experts_per_token);
          CHECK(*std::min_element(loads.begin(), loads.end()) >= 0);
          CHECK(*std::max_element(loads.begin(), loads.end()) <= tokens);
          for (std::size_t e = 0; e < loads.size(); ++e) {
            if (router.inclusion()[e] == 0.0) CHECK(loads[e] == 0);
            if (router.inclusion()[e] == 1.0) CHECK(loads[e] == tokens);
          }
        }
      }
      Rng a(9, 9);
      Rng b(9, 9);
      std::vector<std::int64_t> other(loads.size());
      router.sample(1000, a, loads, scratch);
      router.sample(1000, b, other);
      CHECK(loads == other);
    }
  }
}

/// Per expert: the sample mean of the load is T pi_e and its sample variance T pi_e (1 - pi_e),
/// the moments of Binomial(T, pi_e), which is each load's exact marginal in every design; also
/// the mean over experts of s^2 / sigma^2 (a sharper check of the variance: its standard error
/// is about sqrt(2 / (N E)), so a design with the multinomial's variance T pi (1 - pi / k),
/// 2.8% high for pi = 1/32, k = 8, would fail it).
void check_binomial_marginals(const LayerRouter& router, std::int64_t tokens, int draws,
                              bool per_token) {
  const std::span<const double> pi = router.inclusion();
  const std::size_t n = pi.size();
  std::vector<Moments> m(n);
  Rng rng(21, 4);
  RoutingScratch scratch;
  std::vector<std::int64_t> loads(n);
  for (int d = 0; d < draws; ++d) {
    if (per_token) {
      router.sample_per_token(tokens, rng, loads, scratch);
    } else {
      router.sample(tokens, rng, loads, scratch);
    }
    for (std::size_t e = 0; e < n; ++e) m[e].add(static_cast<double>(loads[e]));
  }
  const auto t = static_cast<double>(tokens);
  double ratio_sum = 0.0;
  double ratio_var = 0.0;
  int counted = 0;
  for (std::size_t e = 0; e < n; ++e) {
    const double var = t * pi[e] * (1.0 - pi[e]);
    if (var == 0.0) {
      CHECK(m[e].variance() == 0.0);
      continue;
    }
    CHECK(std::abs(m[e].mean - t * pi[e]) <= kZ * std::sqrt(var / draws));
    // Binomial fourth central moment mu4 = var (1 + 3 (T - 2) p q); Var(s^2) ~ (mu4 - var^2)/N.
    const double mu4 = var * (1.0 + 3.0 * (t - 2.0) * pi[e] * (1.0 - pi[e]));
    const double se_var = std::sqrt((mu4 - var * var) / draws);
    CHECK(std::abs(m[e].variance() - var) <= kZ * se_var);
    ratio_sum += m[e].variance() / var;
    ratio_var += (mu4 - var * var) / (var * var) / draws;
    ++counted;
  }
  const double ratio = ratio_sum / counted;
  const double ratio_se = std::sqrt(ratio_var) / counted;
  CHECK(std::abs(ratio - 1.0) <= kZ * ratio_se);
}

TEST_CASE("each expert's load has the binomial mean and variance of its inclusion probability") {
  SUBCASE("Zipf 1.2 over 256 experts, top-8, 64 tokens (stratified design)") {
    check_binomial_marginals(LayerRouter(kFlat256, zipf_weights(256, 1.2)), 64, 20000, false);
  }
  SUBCASE("DeepSeek group-limited routing, Zipf 0.8, 4096 tokens") {
    check_binomial_marginals(LayerRouter(kDeepSeek, zipf_weights(256, 0.8)), 4096, 20000, false);
  }
  SUBCASE("Mixtral shape, 8 experts top-2, Zipf 1 (enumerated CPS design)") {
    const LayerRouter router({8, 2, 1, 1}, zipf_weights(8, 1.0));
    CHECK(router.exact());
    check_binomial_marginals(router, 16, 50000, false);
  }
  SUBCASE("the per-token reference sampler, DeepSeek Zipf 1") {
    check_binomial_marginals(LayerRouter(kDeepSeek, zipf_weights(256, 1.0)), 32, 4000, true);
  }
}

/// Sample variance of the per-rank loads (pooled over ranks, which share one value by symmetry)
/// under contiguous placement, with its standard error sqrt(2 / (N R)) sigma^2 (normal loads).
Moments rank_load_moments(const LayerRouter& router, std::int64_t ranks, std::int64_t tokens,
                          int draws, double& pooled_variance) {
  const ExpertPlacement placement = contiguous_placement(router.shape().num_experts, ranks);
  Rng rng(5, 5);
  RoutingScratch scratch;
  std::vector<std::int64_t> loads(static_cast<std::size_t>(router.shape().num_experts));
  std::vector<Moments> per_rank(static_cast<std::size_t>(ranks));
  RankLoads work;
  Moments all;
  for (int d = 0; d < draws; ++d) {
    router.sample(tokens, rng, loads, scratch);
    compute_rank_loads(placement, loads, work);
    for (std::size_t r = 0; r < per_rank.size(); ++r) {
      per_rank[r].add(static_cast<double>(work.rank_tokens[r]));
      all.add(static_cast<double>(work.rank_tokens[r]));
    }
  }
  pooled_variance = 0.0;
  for (const Moments& m : per_rank) pooled_variance += m.variance() / static_cast<double>(ranks);
  return all;
}

TEST_CASE("rank loads show the negative correlation of distinct experts, and the group limit") {
  constexpr std::int64_t kTokens = 64;
  constexpr int kDraws = 20000;
  const std::vector<double> uniform(256, 1.0);
  SUBCASE("ungrouped: a rank of m = 32 of 256 experts, top-8") {
    double var = 0.0;
    const Moments m = rank_load_moments(LayerRouter(kFlat256, uniform), 8, kTokens, kDraws, var);
    // Per token the count on a rank is hypergeometric (draw k = 8 of E = 256, m = 32 marked):
    // mean k m / E = 1, variance k (m/E)(1 - m/E)(E - k)/(E - 1) = 8 (1/8)(7/8)(248/255).
    const double exact = kTokens * 8.0 * (1.0 / 8.0) * (7.0 / 8.0) * (248.0 / 255.0);  // 54.46
    // Independent binomial loads would give T m pi (1 - pi) = 64 * 32 * (1/32)(31/32) = 62.0.
    const double independent = kTokens * 32.0 * (1.0 / 32.0) * (31.0 / 32.0);
    CHECK(m.mean == doctest::Approx(64.0).epsilon(1e-12));  // every draw places exactly 8 T / 8
    const double se = exact * std::sqrt(2.0 / (kDraws * 8.0));
    CHECK(std::abs(var - exact) <= kZ * se);
    CHECK(std::abs(var - independent) > 10.0 * se);
  }
  SUBCASE("DeepSeek: a rank is a group, chosen by half of the tokens, 2 experts each") {
    double var = 0.0;
    const Moments m = rank_load_moments(LayerRouter(kDeepSeek, uniform), 8, kTokens, kDraws, var);
    // Per token the rank's count is 2 Bernoulli(4/8): variance 4 * 1/4 = 1, so T over T tokens.
    const double exact = kTokens * 1.0;
    CHECK(m.mean == doctest::Approx(64.0).epsilon(1e-12));
    CHECK(std::abs(var - exact) <= kZ * exact * std::sqrt(2.0 / (kDraws * 8.0)));
  }
}

/// E[max_i N_i] for (N_i) ~ Multinomial(T, p): N_i are independent Poisson(T p_i) conditioned on
/// their sum being T, so P(max <= x) = [conv_i Poisson(T p_i) truncated to 0..x](T) /
/// Poisson(T)(T); E[max] = sum_{x >= 0} (1 - P(max <= x)).
double multinomial_expected_max(std::int64_t tokens, const std::vector<double>& p) {
  const auto t = static_cast<std::size_t>(tokens);
  const auto pmf = [](double mean, std::size_t j) {
    return std::exp(static_cast<double>(j) * std::log(mean) - mean -
                    std::lgamma(static_cast<double>(j) + 1.0));
  };
  const double total = pmf(static_cast<double>(tokens), t);
  double expected = 0.0;
  for (std::size_t x = 0; x < t; ++x) {
    std::vector<double> conv(t + 1, 0.0);
    conv[0] = 1.0;
    for (double pi : p) {
      std::vector<double> next(t + 1, 0.0);
      for (std::size_t n = 0; n <= t; ++n) {
        if (conv[n] == 0.0) continue;
        for (std::size_t j = 0; j <= x && n + j <= t; ++j) {
          next[n + j] += conv[n] * pmf(static_cast<double>(tokens) * pi, j);
        }
      }
      conv = std::move(next);
    }
    expected += 1.0 - conv[t] / total;
  }
  return expected;
}

TEST_CASE("top-1 imbalance matches the exact expected maximum of a multinomial") {
  // With k = 1 every design is one multinomial draw over the experts; with one expert per rank
  // the imbalance is max_e L_e / (T / E).
  constexpr std::int64_t kTokens = 64;
  constexpr int kDraws = 20000;
  for (double s : {0.0, 1.0}) {
    const std::vector<double> w = zipf_weights(8, s);
    const LayerRouter router({8, 1, 1, 1}, w);
    const std::vector<double> p(router.inclusion().begin(), router.inclusion().end());
    const double exact = multinomial_expected_max(kTokens, p) / (kTokens / 8.0);
    Rng rng(8, 1);
    RoutingScratch scratch;
    std::vector<std::int64_t> loads(8);
    const ExpertPlacement placement = contiguous_placement(8, 8);
    Moments imbalance;
    for (int d = 0; d < kDraws; ++d) {
      router.sample(kTokens, rng, loads, scratch);
      imbalance.add(rank_loads(placement, loads).imbalance());
    }
    // s = 0: E[max of Multinomial(64, 1/8 x 8)] = 12.235, imbalance 1.529.
    CHECK(std::abs(imbalance.mean - exact) <= kZ * imbalance.standard_error());
  }
}

TEST_CASE("aggregated and per-token samplers give the same expected imbalance") {
  // The per-token sampler draws every token independently (its own order); the aggregated one
  // shares the stratified order within a step, which leaves first and second moments exact and
  // changes higher ones (the max) by less than this comparison resolves (about 0.5%).
  struct Case {
    RoutingShape shape;
    double zipf;
    std::int64_t ranks;
    std::int64_t tokens;
  };
  const std::vector<Case> cases{{kFlat256, 0.0, 8, 64},
                                {kFlat256, 1.0, 32, 64},
                                {kDeepSeek, 0.0, 32, 64},
                                {kDeepSeek, 1.0, 32, 64},
                                {{64, 4, 1, 1}, 0.0, 64, 16}};
  constexpr int kDraws = 3000;
  for (const Case& c : cases) {
    const LayerRouter router(c.shape, zipf_weights(c.shape.num_experts, c.zipf));
    const ExpertPlacement placement = contiguous_placement(c.shape.num_experts, c.ranks);
    Rng rng(13, 2);
    RoutingScratch scratch;
    std::vector<std::int64_t> loads(static_cast<std::size_t>(c.shape.num_experts));
    Moments aggregated;
    Moments per_token;
    for (int d = 0; d < kDraws; ++d) {
      router.sample(c.tokens, rng, loads, scratch);
      aggregated.add(rank_loads(placement, loads).imbalance());
      router.sample_per_token(c.tokens, rng, loads, scratch);
      per_token.add(rank_loads(placement, loads).imbalance());
    }
    const double se = std::hypot(aggregated.standard_error(), per_token.standard_error());
    CHECK(std::abs(aggregated.mean - per_token.mean) <= kZ * se);
  }
}

TEST_CASE("a token's experts are distinct and group-limited") {
  const LayerRouter router(kDeepSeek, zipf_weights(256, 1.0));
  Rng rng(4, 4);
  RoutingScratch scratch;
  std::vector<std::int64_t> experts(8);
  for (int t = 0; t < 5000; ++t) {
    router.sample_token(rng, experts, scratch);
    CHECK(std::set<std::int64_t>(experts.begin(), experts.end()).size() == 8);
    std::vector<int> per_group(8, 0);
    for (std::int64_t e : experts) ++per_group[static_cast<std::size_t>(e / 32)];
    // Exactly 4 groups, 2 experts from each.
    CHECK(std::count(per_group.begin(), per_group.end(), 2) == 4);
    CHECK(std::count(per_group.begin(), per_group.end(), 0) == 4);
  }
}

TEST_CASE("reach probabilities are exact for one expert and for uniform routing") {
  // Reaching a target that holds only expert e means routing to e: probability pi_e (this also
  // checks that the fitted CPS odds reproduce the inclusion probabilities).
  for (const RoutingShape& shape : {kFlat256, kDeepSeek}) {
    const LayerRouter router(shape, zipf_weights(256, 1.1));
    std::vector<double> hit(256, 0.0);
    for (std::size_t e : {0u, 17u, 255u}) {
      hit[e] = 1.0;
      CHECK(router.reach_probability(hit) == doctest::Approx(router.inclusion()[e]).epsilon(1e-9));
      hit[e] = 0.0;
    }
  }
  // Uniform, ungrouped: a rank holding 32 of 256 experts is missed when all 8 picks avoid it:
  // 1 - C(224, 8) / C(256, 8).
  std::vector<double> rank0(256, 0.0);
  std::fill(rank0.begin(), rank0.begin() + 32, 1.0);
  double miss = 1.0;
  for (int i = 0; i < 8; ++i) miss *= (224.0 - i) / (256.0 - i);
  const std::vector<double> uniform(256, 1.0);
  CHECK(LayerRouter(kFlat256, uniform).reach_probability(rank0) ==
        doctest::Approx(1.0 - miss).epsilon(1e-9));
  // DeepSeek, uniform: that rank is one group, chosen by a token with probability 4/8.
  CHECK(LayerRouter(kDeepSeek, uniform).reach_probability(rank0) ==
        doctest::Approx(0.5).epsilon(1e-9));
}

TEST_CASE("a router covers every MoE layer, sharing one layer router when layers agree") {
  const Router same(ExpertPopularity::uniform(256, 58), kDeepSeek);
  CHECK(&same.layer(0) == &same.layer(57));
  const Router shuffled(ExpertPopularity::zipf(256, 58, 1.0, ZipfOrder::kShuffled, 1), kDeepSeek);
  CHECK(&shuffled.layer(0) != &shuffled.layer(1));
  std::vector<std::int64_t> loads(58 * 256);
  Rng rng(2, 2);
  RoutingScratch scratch;
  shuffled.sample_step(128, rng, loads, scratch);
  for (std::size_t l = 0; l < 58; ++l) {
    CHECK(std::accumulate(loads.begin() + static_cast<std::ptrdiff_t>(l * 256),
                          loads.begin() + static_cast<std::ptrdiff_t>((l + 1) * 256),
                          std::int64_t{0}) == 128 * 8);
  }
}

}  // namespace
}  // namespace moesim::llm
