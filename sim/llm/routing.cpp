// Token routing samplers. The designs, what is exact and what is approximated are documented in
// routing.hpp. Conditional Poisson sampling (CPS) maths, for odds r over items U and size m:
//   P(S) = prod_{i in S} r_i / e_m(U),  e_j = elementary symmetric polynomial of degree j,
//   pi_i = r_i e_{m-1}(U \ i) / e_m(U),  E[prod_{i in S} x_i] = e_m(r o x) / e_m(r).
// e_{m-1}(U \ i) comes from prefix and suffix polynomials, O(n m) for all i.

#include "sim/llm/routing.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"

namespace moesim::llm {
namespace {

using detail::RoutingStage;

/// Positions within kSnap of a stratum boundary are moved onto it, so that floating-point
/// residue never creates slivers of items across a boundary (an item shorter than kSnap that
/// starts on a boundary is never chosen; its inclusion is below 1e-9).
constexpr double kSnap = 1e-9;
/// CPS fitting stops when every inclusion probability is within kFitTolerance of its target.
constexpr double kFitTolerance = 1e-12;
constexpr int kFitMaxIterations = 1000;
/// Binomials with a smaller mean (of the rarer outcome) are drawn by inversion.
constexpr double kInversionMaxMean = 10.0;

/// Uniform integer in [0, n), n >= 1: Lemire's multiply-and-reject (exactly uniform).
std::uint32_t bounded(Rng& rng, std::uint32_t n) {
  std::uint64_t product = (rng() >> 32) * std::uint64_t{n};
  auto low = static_cast<std::uint32_t>(product);
  if (low < n) {
    const std::uint32_t threshold = (0u - n) % n;
    while (low < threshold) {
      product = (rng() >> 32) * std::uint64_t{n};
      low = static_cast<std::uint32_t>(product);
    }
  }
  return static_cast<std::uint32_t>(product >> 32);
}

/// Binomial(n, p) for any p in [0, 1]: by inversion (sequential search of the CDF from
/// P(0) = (1 - p)^n, one uniform) when min(p, 1 - p) n < kInversionMaxMean, where it is about
/// twice as fast as Rng::binomial's geometric-gap method; Rng::binomial (BTRS) otherwise.
std::uint64_t draw_binomial(Rng& rng, std::uint64_t n, double p) {
  if (n == 0 || p <= 0.0) return 0;
  if (p >= 1.0) return n;
  const bool flip = p > 0.5;
  const double low = flip ? 1.0 - p : p;
  const auto count = static_cast<double>(n);
  if (count * low >= kInversionMaxMean) return rng.binomial(n, p);
  const double ratio = low / (1.0 - low);
  double f = std::exp(count * std::log1p(-low));
  double u = rng.uniform();
  std::uint64_t k = 0;
  while (u >= f && k < n) {
    u -= f;
    f *= ratio * (count - static_cast<double>(k)) / static_cast<double>(k + 1);
    ++k;
  }
  return flip ? n - k : k;
}

/// Fisher-Yates shuffle of perm (any starting permutation gives a uniform result).
void shuffle(Rng& rng, std::vector<std::int32_t>& perm) {
  for (std::size_t i = perm.size(); i > 1; --i) {
    const std::uint32_t j = bounded(rng, static_cast<std::uint32_t>(i));
    std::swap(perm[i - 1], perm[j]);
  }
}

/// End of an item of length p that starts at x on the line [0, m); the last item ends at m.
double item_end(double x, double p, bool last, double m) {
  if (last) return m;
  double y = x + p;
  const double r = std::round(y);
  if (std::abs(y - r) < kSnap) y = r;
  return y;
}

/// e_m of r o x (x empty: all ones).
double esp(std::span<const double> r, std::span<const double> x, std::int64_t m) {
  std::vector<double> e(static_cast<std::size_t>(m) + 1, 0.0);
  e[0] = 1.0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    const double v = x.empty() ? r[i] : r[i] * x[i];
    for (auto j = static_cast<std::size_t>(m); j >= 1; --j) e[j] += v * e[j - 1];
  }
  return e.back();
}

/// CPS inclusion probabilities of odds r with size m.
std::vector<double> cps_inclusion(std::span<const double> r, std::int64_t m) {
  const std::size_t n = r.size();
  const auto w = static_cast<std::size_t>(m) + 1;
  std::vector<double> suffix((n + 1) * w, 0.0);  // suffix[i * w + j] = e_j(r_i .. r_{n-1})
  suffix[n * w] = 1.0;
  for (std::size_t i = n; i-- > 0;) {
    suffix[i * w] = 1.0;
    for (std::size_t j = 1; j < w; ++j) {
      suffix[i * w + j] = suffix[(i + 1) * w + j] + r[i] * suffix[(i + 1) * w + j - 1];
    }
  }
  const double total = suffix[static_cast<std::size_t>(m)];
  std::vector<double> prefix(w, 0.0);  // e_j(r_0 .. r_{i-1})
  prefix[0] = 1.0;
  std::vector<double> pi(n);
  for (std::size_t i = 0; i < n; ++i) {
    double without = 0.0;  // e_{m-1}(U \ i)
    for (std::size_t a = 0; a + 1 < w; ++a) {
      without += prefix[a] * suffix[(i + 1) * w + (w - 2 - a)];
    }
    pi[i] = r[i] * without / total;
    for (std::size_t j = w - 1; j >= 1; --j) prefix[j] += r[i] * prefix[j - 1];
  }
  return pi;
}

/// Odds whose CPS design of size m has inclusion probabilities p (0 < p_i < 1, sum m): the
/// fixed point p~ <- p~ + (p - pi(p~)) on the working probabilities p~, r = p~ / (1 - p~)
/// (Tille 2006, algorithm 5.8 and sec. 5.6.7).
std::vector<double> fit_cps(std::span<const double> p, std::int64_t m) {
  const std::size_t n = p.size();
  std::vector<double> work(p.begin(), p.end());
  std::vector<double> r(n);
  for (int it = 0; it < kFitMaxIterations; ++it) {
    for (std::size_t i = 0; i < n; ++i) r[i] = work[i] / (1.0 - work[i]);
    const std::vector<double> pi = cps_inclusion(r, m);
    double err = 0.0;
    for (std::size_t i = 0; i < n; ++i) err = std::max(err, std::abs(pi[i] - p[i]));
    if (err <= kFitTolerance) break;
    for (std::size_t i = 0; i < n; ++i) {
      double next = work[i] + (p[i] - pi[i]);
      if (next <= 0.0) next = work[i] / 2.0;
      if (next >= 1.0) next = (1.0 + work[i]) / 2.0;
      work[i] = next;
    }
  }
  return r;
}

/// C(n, m), or limit + 1 when larger than `limit`.
std::int64_t choose_capped(std::int64_t n, std::int64_t m, std::int64_t limit) {
  if (m < 0 || m > n) return 0;
  double c = 1.0;
  for (std::int64_t i = 0; i < m; ++i) {
    c = c * static_cast<double>(n - i) / static_cast<double>(i + 1);
    if (c > static_cast<double>(limit)) return limit + 1;
  }
  return static_cast<std::int64_t>(std::llround(c));
}

RoutingStage build_stage(std::vector<double> p, std::int64_t m) {
  RoutingStage st;
  st.size = m;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto item = static_cast<std::int32_t>(i);
    if (p[i] >= 1.0) {
      p[i] = 1.0;
      st.certain.push_back(item);
    } else if (p[i] > 0.0) {
      st.uncertain.push_back(item);
    }
    if (p[i] > 0.0) st.active.push_back(item);
  }
  st.inclusion = std::move(p);
  MOESIM_ASSERT(st.uncertain_size() >= 0, "more certain items than the stage chooses");
  if (st.uncertain_size() >= static_cast<std::int64_t>(st.uncertain.size())) {
    // Only rounding can leave no more uncertain items than places: all of them are chosen.
    for (std::int32_t i : st.uncertain) st.inclusion[static_cast<std::size_t>(i)] = 1.0;
    st.certain.insert(st.certain.end(), st.uncertain.begin(), st.uncertain.end());
    std::sort(st.certain.begin(), st.certain.end());
    st.uncertain.clear();
  }
  const std::int64_t mu = st.uncertain_size();
  if (mu <= 0) return st;
  std::vector<double> pu;
  for (std::int32_t i : st.uncertain) pu.push_back(st.inclusion[static_cast<std::size_t>(i)]);
  st.odds = fit_cps(pu, mu);
  st.odds_esp = esp(st.odds, {}, mu);
  const auto nu = static_cast<std::int64_t>(st.uncertain.size());
  if (m < 2 || choose_capped(nu, mu, kMaxEnumeratedSubsets) > kMaxEnumeratedSubsets) return st;
  std::vector<std::int64_t> idx(static_cast<std::size_t>(mu));
  std::iota(idx.begin(), idx.end(), std::int64_t{0});
  double total = 0.0;
  for (;;) {
    double prob = 1.0 / st.odds_esp;
    for (std::int64_t t : idx) {
      prob *= st.odds[static_cast<std::size_t>(t)];
      st.subset_items.push_back(st.uncertain[static_cast<std::size_t>(t)]);
    }
    st.subset_prob.push_back(prob);
    total += prob;
    std::int64_t pos = mu - 1;  // next combination in lexicographic order
    while (pos >= 0 && idx[static_cast<std::size_t>(pos)] == nu - mu + pos) --pos;
    if (pos < 0) break;
    ++idx[static_cast<std::size_t>(pos)];
    for (std::int64_t q = pos + 1; q < mu; ++q) {
      idx[static_cast<std::size_t>(q)] = idx[static_cast<std::size_t>(q - 1)] + 1;
    }
  }
  double run = 0.0;
  for (double& prob : st.subset_prob) {
    prob /= total;
    run += prob;
    st.subset_cdf.push_back(run);
  }
  st.subset_cdf.back() = 1.0;
  st.subset_conditional.resize(st.subset_prob.size());
  double tail = 0.0;  // summed from the smallest subsets up for accuracy
  for (std::size_t s = st.subset_prob.size(); s-- > 0;) {
    tail += st.subset_prob[s];
    st.subset_conditional[s] = std::min(1.0, st.subset_prob[s] / tail);
  }
  st.subset_conditional.back() = 1.0;
  return st;
}

/// Tokens per item of one stage: out[i] = tokens choosing item i (out.size() == items).
void sample_stage(const RoutingStage& st, std::int64_t tokens, Rng& rng,
                  std::vector<std::int32_t>& perm, std::span<std::int64_t> out) {
  std::fill(out.begin(), out.end(), 0);
  if (tokens == 0) return;
  const auto t = static_cast<std::uint64_t>(tokens);
  if (st.enumerated()) {
    for (std::int32_t c : st.certain) out[static_cast<std::size_t>(c)] = tokens;
    // Multinomial over the subsets by sequential conditional binomials.
    const auto mu = static_cast<std::size_t>(st.uncertain_size());
    std::uint64_t remaining = t;
    for (std::size_t s = 0; s < st.subset_prob.size() && remaining > 0; ++s) {
      const std::uint64_t c = draw_binomial(rng, remaining, st.subset_conditional[s]);
      remaining -= c;
      if (c == 0) continue;
      for (std::size_t q = 0; q < mu; ++q) {
        out[static_cast<std::size_t>(st.subset_items[s * mu + q])] += static_cast<std::int64_t>(c);
      }
    }
    return;
  }
  const std::size_t n = st.active.size();
  perm.resize(n);
  std::iota(perm.begin(), perm.end(), 0);
  if (st.size > 1) shuffle(rng, perm);  // with one stratum the order does not matter
  const auto m = static_cast<double>(st.size);
  std::uint64_t remaining = t;  // tokens of the current stratum not yet placed
  double x = 0.0;               // start of the current item
  double stratum_end = 1.0;
  for (std::size_t q = 0; q < n; ++q) {
    const auto item = static_cast<std::size_t>(st.active[static_cast<std::size_t>(perm[q])]);
    const double y = item_end(x, st.inclusion[item], q + 1 == n, m);
    if (y > stratum_end) {
      // Straddles: its end piece is the stratum's last piece (it takes every remaining token);
      // tokens that did not take it take its start piece with probability b / a.
      const std::uint64_t end_count = remaining;
      const double a = x - (stratum_end - 1.0);
      const double b = y - stratum_end;
      const double q_start = a > 0.0 ? std::min(1.0, b / a) : 0.0;
      const std::uint64_t start_count = draw_binomial(rng, t - end_count, q_start);
      out[item] = static_cast<std::int64_t>(end_count + start_count);
      remaining = t - start_count;
      stratum_end += 1.0;
    } else {
      const double room = stratum_end - x;
      const double p = room > 0.0 ? std::min(1.0, (y - x) / room) : 1.0;
      const std::uint64_t c = draw_binomial(rng, remaining, p);
      out[item] = static_cast<std::int64_t>(c);
      remaining -= c;
      if (y >= stratum_end) {
        stratum_end += 1.0;
        remaining = t;
      }
    }
    x = y;
  }
}

/// One token's items of one stage, appended to `picks`.
void stage_token(const RoutingStage& st, Rng& rng, std::vector<std::int32_t>& perm,
                 std::vector<double>& ends, std::vector<std::int32_t>& picks) {
  if (st.enumerated()) {
    picks.insert(picks.end(), st.certain.begin(), st.certain.end());
    const double u = rng.uniform();
    const auto s = static_cast<std::size_t>(
        std::upper_bound(st.subset_cdf.begin(), st.subset_cdf.end(), u) - st.subset_cdf.begin());
    const auto mu = static_cast<std::size_t>(st.uncertain_size());
    const std::size_t chosen = std::min(s, st.subset_prob.size() - 1);
    for (std::size_t q = 0; q < mu; ++q) picks.push_back(st.subset_items[chosen * mu + q]);
    return;
  }
  const std::size_t n = st.active.size();
  perm.resize(n);
  std::iota(perm.begin(), perm.end(), 0);
  if (st.size > 1) shuffle(rng, perm);
  ends.resize(n);
  const auto m = static_cast<double>(st.size);
  double x = 0.0;
  for (std::size_t q = 0; q < n; ++q) {
    const auto item = static_cast<std::size_t>(st.active[static_cast<std::size_t>(perm[q])]);
    ends[q] = item_end(x, st.inclusion[item], q + 1 == n, m);
    x = ends[q];
  }
  const auto item_at = [&](std::size_t q) { return st.active[static_cast<std::size_t>(perm[q])]; };
  std::size_t first = 0;  // first item whose end lies beyond the current stratum's start
  bool took_end = false;  // the token took the straddler ending the previous stratum
  for (std::int64_t j = 0; j < st.size; ++j) {
    const auto lo = static_cast<double>(j);
    const double hi = lo + 1.0;
    const double start = first == 0 ? 0.0 : ends[first - 1];
    double b = 0.0;
    if (start < lo) {  // item `first` straddles from the previous stratum
      b = ends[first] - lo;
      const double a = start - (lo - 1.0);
      if (!took_end && rng.uniform() < std::min(1.0, b / a)) {
        picks.push_back(item_at(first));
        took_end = false;
        while (first < n && ends[first] <= hi) ++first;
        continue;
      }
    }
    double u = lo + b + (1.0 - b) * rng.uniform();
    u = std::min(u, std::nextafter(hi, lo));
    std::size_t q = first;
    while (q + 1 < n && ends[q] <= u) ++q;
    picks.push_back(item_at(q));
    took_end = ends[q] > hi;
    while (first < n && ends[first] <= hi) ++first;
  }
}

/// E[prod_{i in S} x_i] over the stage's design (CPS for stratified stages); x per item.
double stage_product(const RoutingStage& st, std::span<const double> x) {
  double prod = 1.0;
  for (std::int32_t c : st.certain) prod *= x[static_cast<std::size_t>(c)];
  const std::int64_t mu = st.uncertain_size();
  if (mu <= 0) return prod;
  if (st.enumerated()) {
    const auto w = static_cast<std::size_t>(mu);
    double sum = 0.0;
    for (std::size_t s = 0; s < st.subset_prob.size(); ++s) {
      double term = st.subset_prob[s];
      for (std::size_t q = 0; q < w; ++q) {
        term *= x[static_cast<std::size_t>(st.subset_items[s * w + q])];
      }
      sum += term;
    }
    return prod * sum;
  }
  std::vector<double> xu(st.uncertain.size());
  for (std::size_t i = 0; i < xu.size(); ++i) {
    xu[i] = x[static_cast<std::size_t>(st.uncertain[i])];
  }
  return prod * esp(st.odds, xu, mu) / st.odds_esp;
}

[[noreturn]] void bad_shape(std::string key, std::string expected, std::string found) {
  throw ConfigError({}, std::move(key), std::move(expected), std::move(found));
}

}  // namespace

RoutingShape RoutingShape::of(const MoeSpec& moe) {
  RoutingShape s;
  s.num_experts = moe.num_experts;
  s.experts_per_token = moe.experts_per_token;
  if (moe.router.n_group > 1 && moe.router.topk_group < moe.router.n_group) {
    s.num_groups = moe.router.n_group;
    s.groups_per_token = moe.router.topk_group;
  }
  s.validate();
  return s;
}

void RoutingShape::validate() const {
  const auto str = [](std::int64_t v) { return std::to_string(v); };
  if (num_experts < 1) bad_shape("moe.num_experts", "at least 1 routed expert", str(num_experts));
  if (experts_per_token < 1 || experts_per_token > num_experts) {
    bad_shape("moe.experts_per_token", "1.." + str(num_experts), str(experts_per_token));
  }
  if (num_groups < 1 || num_experts % num_groups != 0) {
    bad_shape("moe.router.n_group", "a divisor of num_experts " + str(num_experts),
              str(num_groups));
  }
  if (groups_per_token < 1 || groups_per_token > num_groups) {
    bad_shape("moe.router.topk_group", "1.." + str(num_groups), str(groups_per_token));
  }
  if (experts_per_token % groups_per_token != 0) {
    bad_shape("moe.router.topk_group",
              "a divisor of experts_per_token " + str(experts_per_token) +
                  " (a token takes k / topk_group experts from each chosen group)",
              str(groups_per_token));
  }
  if (experts_per_chosen_group() > experts_per_group()) {
    bad_shape("moe.router.topk_group",
              "at least k / (experts per group) = " +
                  str((experts_per_token + experts_per_group() - 1) / experts_per_group()),
              str(groups_per_token));
  }
}

LayerRouter::LayerRouter(const RoutingShape& shape, std::span<const double> weights)
    : shape_(shape) {
  shape_.validate();
  MOESIM_ASSERT(static_cast<std::int64_t>(weights.size()) == shape_.num_experts,
                "one popularity weight per expert");
  const auto groups = static_cast<std::size_t>(shape_.num_groups);
  const auto per_group = static_cast<std::size_t>(shape_.experts_per_group());
  if (groups == 1) {
    groups_ = build_stage({1.0}, 1);
    within_.push_back(build_stage(inclusion_probabilities(weights, shape_.experts_per_token),
                                  shape_.experts_per_token));
    inclusion_ = within_.front().inclusion;
    return;
  }
  std::vector<double> group_weight(groups, 0.0);
  for (std::size_t g = 0; g < groups; ++g) {
    for (std::size_t i = 0; i < per_group; ++i) group_weight[g] += weights[g * per_group + i];
  }
  groups_ = build_stage(inclusion_probabilities(group_weight, shape_.groups_per_token),
                        shape_.groups_per_token);
  inclusion_.resize(weights.size());
  const std::int64_t k_g = shape_.experts_per_chosen_group();
  for (std::size_t g = 0; g < groups; ++g) {
    within_.push_back(
        build_stage(inclusion_probabilities(weights.subspan(g * per_group, per_group), k_g), k_g));
    for (std::size_t i = 0; i < per_group; ++i) {
      inclusion_[g * per_group + i] = groups_.inclusion[g] * within_.back().inclusion[i];
    }
  }
}

bool LayerRouter::exact() const {
  const auto exact_stage = [](const RoutingStage& st) {
    return st.enumerated() || st.size == 1 || st.uncertain_size() == 0;
  };
  return exact_stage(groups_) && std::all_of(within_.begin(), within_.end(), exact_stage);
}

void LayerRouter::sample(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads,
                         RoutingScratch& scratch) const {
  MOESIM_ASSERT(tokens >= 0, "token count must be >= 0");
  MOESIM_ASSERT(static_cast<std::int64_t>(loads.size()) == shape_.num_experts,
                "one load per expert");
  if (within_.size() == 1) {
    sample_stage(within_.front(), tokens, rng, scratch.perm_, loads);
    return;
  }
  const auto per_group = static_cast<std::size_t>(shape_.experts_per_group());
  scratch.group_tokens_.resize(within_.size());
  sample_stage(groups_, tokens, rng, scratch.perm_, scratch.group_tokens_);
  for (std::size_t g = 0; g < within_.size(); ++g) {
    sample_stage(within_[g], scratch.group_tokens_[g], rng, scratch.perm_,
                 loads.subspan(g * per_group, per_group));
  }
}

void LayerRouter::sample(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads) const {
  RoutingScratch scratch;
  sample(tokens, rng, loads, scratch);
}

void LayerRouter::sample_token(Rng& rng, std::span<std::int64_t> experts,
                               RoutingScratch& scratch) const {
  MOESIM_ASSERT(static_cast<std::int64_t>(experts.size()) == shape_.experts_per_token,
                "sample_token writes k experts");
  const auto per_group = static_cast<std::int64_t>(shape_.experts_per_group());
  scratch.picks_.clear();
  if (within_.size() == 1) {
    scratch.picks_.push_back(0);
  } else {
    stage_token(groups_, rng, scratch.perm_, scratch.ends_, scratch.picks_);
  }
  std::size_t out = 0;
  const std::size_t num_groups = scratch.picks_.size();
  for (std::size_t gi = 0; gi < num_groups; ++gi) {
    const auto g = static_cast<std::size_t>(scratch.picks_[gi]);
    const std::size_t before = scratch.picks_.size();
    stage_token(within_[g], rng, scratch.perm_, scratch.ends_, scratch.picks_);
    for (std::size_t q = before; q < scratch.picks_.size(); ++q) {
      experts[out++] = static_cast<std::int64_t>(g) * per_group + scratch.picks_[q];
    }
    scratch.picks_.resize(before);
  }
  MOESIM_ASSERT(out == experts.size(), "a token gets exactly k experts");
  std::sort(experts.begin(), experts.end());
}

void LayerRouter::sample_per_token(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads,
                                   RoutingScratch& scratch) const {
  MOESIM_ASSERT(static_cast<std::int64_t>(loads.size()) == shape_.num_experts,
                "one load per expert");
  std::fill(loads.begin(), loads.end(), 0);
  std::vector<std::int64_t> experts(static_cast<std::size_t>(shape_.experts_per_token));
  for (std::int64_t t = 0; t < tokens; ++t) {
    sample_token(rng, experts, scratch);
    for (std::int64_t e : experts) ++loads[static_cast<std::size_t>(e)];
  }
}

double LayerRouter::reach_probability(std::span<const double> hit_fraction) const {
  RoutingScratch scratch;
  return reach_probability(hit_fraction, scratch);
}

double LayerRouter::reach_probability(std::span<const double> hit_fraction,
                                      RoutingScratch& scratch) const {
  MOESIM_ASSERT(static_cast<std::int64_t>(hit_fraction.size()) == shape_.num_experts,
                "one hit fraction per expert");
  const auto per_group = static_cast<std::size_t>(shape_.experts_per_group());
  std::vector<double>& miss = scratch.product_;
  miss.resize(hit_fraction.size());
  std::vector<double> group_miss(within_.size(), 1.0);
  for (std::size_t g = 0; g < within_.size(); ++g) {
    bool touched = false;
    for (std::size_t i = 0; i < per_group; ++i) {
      const double f = hit_fraction[g * per_group + i];
      MOESIM_ASSERT(f >= 0.0 && f <= 1.0, "hit fractions lie in [0, 1]");
      miss[g * per_group + i] = 1.0 - f;
      touched = touched || f > 0.0;
    }
    if (touched) {
      group_miss[g] = stage_product(
          within_[g], std::span<const double>(miss).subspan(g * per_group, per_group));
    }
  }
  const double none = within_.size() == 1 ? group_miss.front() : stage_product(groups_, group_miss);
  return std::clamp(1.0 - none, 0.0, 1.0);
}

Router::Router(const ExpertPopularity& popularity, const RoutingShape& shape)
    : shape_(shape), num_moe_layers_(popularity.num_moe_layers()) {
  shape_.validate();
  MOESIM_ASSERT(popularity.num_experts() == shape_.num_experts,
                "popularity and routing shape disagree on the number of experts");
  const std::int64_t distinct = popularity.same_for_all_layers() ? 1 : num_moe_layers_;
  layers_.reserve(static_cast<std::size_t>(distinct));
  for (std::int64_t l = 0; l < distinct; ++l) layers_.emplace_back(shape_, popularity.weights(l));
}

const LayerRouter& Router::layer(std::int64_t moe_layer) const {
  MOESIM_ASSERT(moe_layer >= 0 && moe_layer < num_moe_layers_, "MoE layer out of range");
  return layers_[layers_.size() == 1 ? 0 : static_cast<std::size_t>(moe_layer)];
}

void Router::sample_step(std::int64_t tokens, Rng& rng, std::span<std::int64_t> loads,
                         RoutingScratch& scratch) const {
  const auto e = static_cast<std::size_t>(shape_.num_experts);
  MOESIM_ASSERT(loads.size() == static_cast<std::size_t>(num_moe_layers_) * e,
                "sample_step writes num_moe_layers x E loads");
  for (std::int64_t l = 0; l < num_moe_layers_; ++l) {
    layer(l).sample(tokens, rng, loads.subspan(static_cast<std::size_t>(l) * e, e), scratch);
  }
}

}  // namespace moesim::llm
