#include "sim/study/attribution.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/core/error.hpp"
#include "sim/study/pareto.hpp"
#include "sim/study/svg_plot.hpp"

namespace moesim::study {
namespace {

const SourceLocation kSetup{"<attribution>", 0, 0};

/// The baseline's parallelism: one 8-GPU HGX server, TP8 (EP 1 or 8) or ADP8 EP8, the plans of
/// the vendors' HGX H200 baselines (published/cases.yaml trtllm-dsr1-* on H200: TP8, EP8).
constexpr std::int32_t kServerGpus = 8;

/// The vendors' claims (the project brief): GB200 NVL72 up to 10x faster and 1/10 the cost per
/// token of HGX H200 on MoE models; up to 2.8x per GPU from software alone.
constexpr double kClaimTotal = 10.0;
constexpr double kClaimSoftware = 2.8;

bool substituted(Factor f) {
  return f == Factor::kSystem || f == Factor::kPrecision || f == Factor::kStack;
}

/// Whether deployment `d` lies inside the baseline's parallelism (see kServerGpus).
bool narrow_plan(const SweepDeployment& d) {
  const SweepPool& p = d.disaggregated ? d.decode : d.primary;
  if (p.attention_dp == 1) return p.tp == kServerGpus;
  return p.attention_dp == kServerGpus && p.tp == 1 && p.ep == kServerGpus;
}

std::string optional_json(const std::optional<double>& v) {
  return v ? format_number(*v, 6) : "null";
}

std::string optional_text(const std::optional<double>& v, int digits) {
  return v ? format_number(*v, digits) : "-";
}

std::string quoted(const std::string& s) { return "\"" + json_escape(s) + "\""; }

/// The bit of factor `f` in a subset mask of `factors`, 0 when `f` does not vary.
std::uint32_t bit_of(const std::vector<Factor>& factors, Factor f) {
  const auto it = std::find(factors.begin(), factors.end(), f);
  return it == factors.end() ? 0u : 1u << (it - factors.begin());
}

/// Whether subset `mask` has factor `f` at its target value (factors that do not vary are).
bool at_target(const std::vector<Factor>& factors, std::uint32_t mask, Factor f) {
  const std::uint32_t bit = bit_of(factors, f);
  return bit == 0 || (mask & bit) != 0;
}

/// Subsets as "system+mtp", "none" for the empty one.
std::string subset_name(const std::vector<Factor>& factors, std::uint32_t mask) {
  std::string out;
  for (std::size_t i = 0; i < factors.size(); ++i) {
    if ((mask & (1u << i)) == 0) continue;
    if (!out.empty()) out += "+";
    out += factor_name(factors[i]);
  }
  return out.empty() ? "none" : out;
}

std::string join(const std::vector<std::int32_t>& v) {
  std::string out;
  for (const std::int32_t x : v) out += (out.empty() ? "" : "/") + std::to_string(x);
  return out;
}

std::string precision_text(const std::string& p) { return p.empty() ? "checkpoint" : p; }

std::string stack_text(const std::string& s) { return s.empty() ? "system default" : s; }

/// ln v(mask) at level index `l`, nullopt when unreachable.
std::optional<double> log_value(const AttributionResult& r, std::size_t l, std::uint32_t mask,
                                bool cost) {
  const auto& b = r.best[l][mask];
  if (!b) return std::nullopt;
  if (!cost) return std::log(b->tok_s_per_gpu);
  if (!b->usd_per_mtok || *b->usd_per_mtok <= 0.0) return std::nullopt;
  return -std::log(*b->usd_per_mtok);  // cheaper is better
}

std::optional<double> ratio(const AttributionResult& r, std::size_t l, std::uint32_t to,
                            std::uint32_t from, bool cost) {
  const auto a = log_value(r, l, to, cost);
  const auto b = log_value(r, l, from, cost);
  if (!a || !b) return std::nullopt;
  return std::exp(*a - *b);
}

/// The smallest subset (fewest factors; then the larger ratio; then the lower mask) whose
/// ratio to `from` reaches `claim`, among subsets containing `from` and inside `within`.
std::optional<std::uint32_t> smallest_reaching(const AttributionResult& r, std::size_t l,
                                               std::uint32_t from, std::uint32_t within,
                                               double claim, bool cost) {
  std::optional<std::uint32_t> best;
  double best_ratio = 0.0;
  for (std::uint32_t m = 0; m <= r.full_mask(); ++m) {
    if ((m & from) != from || (m & ~within) != 0) continue;
    const auto x = ratio(r, l, m, from, cost);
    if (!x || *x < claim) continue;
    const int n = std::popcount(m);
    if (!best || n < std::popcount(*best) || (n == std::popcount(*best) && *x > best_ratio)) {
      best = m;
      best_ratio = *x;
    }
  }
  return best;
}

/// What the baseline row says when the baseline cannot reach level `l`: the fewest factors
/// (then the higher tokens/s per GPU) whose subset can.
std::string unreachable_text(const AttributionResult& r, std::size_t l) {
  std::optional<std::uint32_t> best;
  for (std::uint32_t m = 1; m <= r.full_mask(); ++m) {
    if (!r.best[l][m]) continue;
    const int n = std::popcount(m);
    if (!best || n < std::popcount(*best) ||
        (n == std::popcount(*best) &&
         r.best[l][m]->tok_s_per_gpu > r.best[l][*best]->tok_s_per_gpu)) {
      best = m;
    }
  }
  return "cannot reach this level; fewest factors that can: " +
         (best ? subset_name(r.factors, *best) : std::string("none"));
}

/// One claim of claim_table() at one level.
struct Claim {
  std::string name;
  double claimed = 0.0;
  std::optional<double> simulated;
  std::string needs;  ///< factors of the smallest subset reaching it, or why none
};

std::vector<Claim> claims_at(const AttributionResult& r, std::size_t l) {
  const std::uint32_t all = r.full_mask();
  const std::uint32_t sys = bit_of(r.factors, Factor::kSystem);
  const auto needs = [&](std::uint32_t from, std::uint32_t within, double claim, bool cost) {
    const auto m = smallest_reaching(r, l, from, within, claim, cost);
    if (!m) return std::string("no subset of the factors reaches it");
    return subset_name(r.factors, *m & ~from);
  };
  const std::string& a = r.setup.system[0];
  const std::string& b = r.setup.system[1];
  std::vector<Claim> out;
  if (a != b) {  // the hardware claims compare two systems
    out.push_back({"tok/s per GPU, " + b + " / " + a, kClaimTotal, ratio(r, l, all, 0, false),
                   needs(0, all, kClaimTotal, false)});
    out.push_back({"cost per token, " + a + " / " + b, kClaimTotal, ratio(r, l, all, 0, true),
                   needs(0, all, kClaimTotal, true)});
  }
  out.push_back({"software alone on " + a, kClaimSoftware, ratio(r, l, all & ~sys, 0, false),
                 needs(0, all & ~sys, kClaimSoftware, false)});
  if (sys != 0) {
    out.push_back({"software alone on " + b, kClaimSoftware, ratio(r, l, all, sys, false),
                   needs(sys, all, kClaimSoftware, false)});
  }
  return out;
}

}  // namespace

std::string_view factor_name(Factor f) {
  switch (f) {
    case Factor::kSystem: return "system";
    case Factor::kPrecision: return "precision";
    case Factor::kParallelism: return "parallelism";
    case Factor::kServing: return "serving";
    case Factor::kMtp: return "mtp";
    case Factor::kStack: return "stack";
  }
  return "?";
}

std::optional<Factor> parse_factor(std::string_view name) {
  for (const Factor f : kAllFactors) {
    if (factor_name(f) == name) return f;
  }
  return std::nullopt;
}

SweepSpace AttributionSetup::default_space() {
  SweepSpace s = SweepSpace::quick();
  // Disaggregation at 1:1 and 1:2, with the baseline's ADP8 and the widest ADP width inside a
  // domain (72 on an NVL72; wider ones are dropped per system) as the decode pool. Sweep's 1:4
  // is left out: at 1k in one TP8 prefill instance already limits 1:2 (`moesim sweep --system
  // gb200-nvl72 --quick --precision weights=nvfp4 --disagg 1:1,1:2`, 2026-12-08: 1P:2D(ADP72)
  // peaks at 412 tok/s per GPU against 782 for 1P:1D), so 1:4 only adds idle decode GPUs.
  s.disagg_ratios = {{1, 1}, {1, 2}};
  s.disagg_decode_widths = {kServerGpus, 72};
  return s;
}

std::vector<Factor> AttributionSetup::factors() const {
  std::vector<Factor> out;
  for (const Factor f : order) {
    if (f == Factor::kSystem && system[0] == system[1]) continue;
    if (f == Factor::kPrecision && precision[0] == precision[1]) continue;
    if (f == Factor::kStack && stack[0] == stack[1]) continue;
    out.push_back(f);
  }
  return out;
}

std::string describe_change(const AttributionSetup& setup, Factor f) {
  switch (f) {
    case Factor::kSystem: return setup.system[0] + " -> " + setup.system[1];
    case Factor::kPrecision:
      return precision_text(setup.precision[0]) + " -> " + precision_text(setup.precision[1]);
    case Factor::kStack: return stack_text(setup.stack[0]) + " -> " + stack_text(setup.stack[1]);
    case Factor::kParallelism:
      return "TP8 or ADP8 EP8 in one server -> TP " + join(setup.space.tp_sizes) + ", ADP+EP " +
             join(setup.space.ep_widths);
    case Factor::kServing: return "aggregated -> also disaggregated";
    case Factor::kMtp: {
      std::vector<std::int32_t> k;
      for (const std::int32_t n : setup.space.mtp_draft_tokens) {
        if (n > 0) k.push_back(n);
      }
      return "no MTP -> MTP " + (k.empty() ? std::string("none") : join(k)) + " draft tokens";
    }
  }
  return "?";
}

std::optional<std::vector<FactorShare>> AttributionResult::waterfall(std::size_t l) const {
  std::vector<FactorShare> out;
  std::uint32_t mask = 0;
  for (std::size_t i = 0; i < factors.size(); ++i) {
    const std::uint32_t next = mask | (1u << i);
    const auto thr = ratio(*this, l, next, mask, false);
    if (!thr) return std::nullopt;
    out.push_back({factors[i], *thr, ratio(*this, l, next, mask, true), best[l][next]});
    mask = next;
  }
  return out;
}

std::optional<std::vector<FactorShare>> AttributionResult::shapley(std::size_t l) const {
  const std::size_t n = factors.size();
  for (std::uint32_t m = 0; m <= full_mask(); ++m) {
    if (!best[l][m]) return std::nullopt;
  }
  // Weight of a subset of size s not containing the factor: s! (n - s - 1)! / n!.
  std::vector<double> weight(n);
  for (std::size_t s = 0; s < n; ++s) {
    weight[s] = std::tgamma(static_cast<double>(s) + 1.0) *
                std::tgamma(static_cast<double>(n - s)) / std::tgamma(static_cast<double>(n) + 1.0);
  }
  std::vector<FactorShare> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t bit = 1u << i;
    double thr = 0.0;
    double cost = 0.0;
    bool has_cost = true;
    for (std::uint32_t m = 0; m <= full_mask(); ++m) {
      if ((m & bit) != 0) continue;
      const double w = weight[static_cast<std::size_t>(std::popcount(m))];
      thr += w * (*log_value(*this, l, m | bit, false) - *log_value(*this, l, m, false));
      const auto c1 = log_value(*this, l, m | bit, true);
      const auto c0 = log_value(*this, l, m, true);
      if (c1 && c0) {
        cost += w * (*c1 - *c0);
      } else {
        has_cost = false;
      }
    }
    out.push_back({factors[i], std::exp(thr),
                   has_cost ? std::optional<double>(std::exp(cost)) : std::nullopt, std::nullopt});
  }
  return out;
}

AttributionResult run_attribution(const AttributionSetup& setup, const config::Catalog& catalog,
                                  const SweepOptions& options) {
  AttributionResult r;
  r.setup = setup;
  r.factors = setup.factors();
  if (r.factors.empty()) {
    throw ConfigError(kSetup, "factors", "at least one factor whose baseline and target differ",
                      "none");
  }
  if (setup.levels.empty()) {
    throw ConfigError(kSetup, "levels", "at least one level (tokens/s per user)", "none");
  }
  for (const double level : setup.levels) {
    if (!(level > 0.0) || !std::isfinite(level)) {
      throw ConfigError(kSetup, "levels", "tokens/s per user above 0", format_number(level));
    }
  }
  // One sweep per combination of the varying substituted factors (bits in factor order).
  std::vector<Factor> subs;
  for (const Factor f : r.factors) {
    if (substituted(f)) subs.push_back(f);
  }
  const std::size_t sweeps = std::size_t{1} << subs.size();
  std::vector<SweepBase> bases;
  for (std::size_t c = 0; c < sweeps; ++c) {
    const auto pick = [&](Factor f, const std::array<std::string, 2>& values) {
      const auto it = std::find(subs.begin(), subs.end(), f);
      if (it == subs.end()) return values[1];  // not varying: the target's value
      return values[(c >> (it - subs.begin())) & 1u];
    };
    SweepBase base = setup.base;
    base.system = pick(Factor::kSystem, setup.system);
    base.precision = pick(Factor::kPrecision, setup.precision);
    base.stack = pick(Factor::kStack, setup.stack);
    bases.push_back(base);
  }
  SweepOptions o = options;
  // Only points at or above the lowest level can be a subset's best.
  o.min_tok_s_per_user = *std::min_element(setup.levels.begin(), setup.levels.end());
  r.sweeps = run_sweeps(bases, setup.space, catalog, o);
  // Each subset: its sweep, then the best allowed point at each level.
  r.best.assign(setup.levels.size(),
                std::vector<std::optional<SubsetBest>>(std::size_t{r.full_mask()} + 1));
  for (std::uint32_t mask = 0; mask <= r.full_mask(); ++mask) {
    std::size_t c = 0;
    for (std::size_t j = 0; j < subs.size(); ++j) {
      if ((mask & bit_of(r.factors, subs[j])) != 0) c |= std::size_t{1} << j;
    }
    const SweepResult& s = r.sweeps[c];
    std::vector<double> x, y;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < s.points.size(); ++i) {
      const SweepPoint& p = s.points[i];
      const SweepDeployment& d = s.deployments[p.deployment];
      if (!p.simulated) continue;
      if (!at_target(r.factors, mask, Factor::kParallelism) && !narrow_plan(d)) continue;
      if (!at_target(r.factors, mask, Factor::kServing) && d.disaggregated) continue;
      if (!at_target(r.factors, mask, Factor::kMtp) && d.mtp_draft_tokens > 0) continue;
      x.push_back(p.tok_s_per_user);
      y.push_back(p.output_tok_s_per_gpu);
      index.push_back(i);
    }
    for (std::size_t l = 0; l < setup.levels.size(); ++l) {
      const auto k = best_at_least(x, y, setup.levels[l]);
      if (!k) continue;
      const SweepPoint& p = s.points[index[*k]];
      r.best[l][mask] = SubsetBest{p.output_tok_s_per_gpu, p.cost_usd_per_mtok, p.label};
    }
  }
  return r;
}

Table attribution_table(const AttributionResult& r) {
  Table t({"tok_s_per_user_min", "factor", "change", "waterfall_throughput_x", "waterfall_cost_x",
           "tok_s_per_gpu_after", "usd_per_mtok_after", "deployment_after", "shapley_throughput_x",
           "shapley_cost_x"});
  for (std::size_t l = 0; l < r.setup.levels.size(); ++l) {
    const std::string level = format_number(r.setup.levels[l], 3);
    const auto& base = r.best[l][0];
    const auto& target = r.best[l][r.full_mask()];
    t.add_row({level, "baseline", "-", "-", "-", base ? format_number(base->tok_s_per_gpu) : "-",
               base ? optional_text(base->usd_per_mtok, 3) : "-",
               base ? base->deployment : unreachable_text(r, l), "-", "-"});
    const auto fall = r.waterfall(l);
    const auto shap = r.shapley(l);
    for (std::size_t i = 0; i < r.factors.size(); ++i) {
      const FactorShare* w = fall ? &(*fall)[i] : nullptr;
      const FactorShare* s = shap ? &(*shap)[i] : nullptr;
      t.add_row({level, std::string(factor_name(r.factors[i])),
                 describe_change(r.setup, r.factors[i]), w ? format_number(w->throughput, 3) : "-",
                 w ? optional_text(w->cost, 3) : "-",
                 w ? format_number(w->after->tok_s_per_gpu) : "-",
                 w ? optional_text(w->after->usd_per_mtok, 3) : "-", w ? w->after->deployment : "-",
                 s ? format_number(s->throughput, 3) : "-", s ? optional_text(s->cost, 3) : "-"});
    }
    t.add_row({level, "total", "baseline -> target",
               optional_text(ratio(r, l, r.full_mask(), 0, false), 3),
               optional_text(ratio(r, l, r.full_mask(), 0, true), 3),
               target ? format_number(target->tok_s_per_gpu) : "-",
               target ? optional_text(target->usd_per_mtok, 3) : "-",
               target ? target->deployment : "cannot reach this level",
               optional_text(ratio(r, l, r.full_mask(), 0, false), 3),
               optional_text(ratio(r, l, r.full_mask(), 0, true), 3)});
  }
  return t;
}

Table claim_table(const AttributionResult& r) {
  Table t({"tok_s_per_user_min", "claim", "claimed_x", "simulated_x", "holds", "factors_needed"});
  for (std::size_t l = 0; l < r.setup.levels.size(); ++l) {
    for (const Claim& c : claims_at(r, l)) {
      t.add_row({format_number(r.setup.levels[l], 3), c.name, format_number(c.claimed, 3),
                 optional_text(c.simulated, 3),
                 c.simulated ? (*c.simulated >= c.claimed ? "yes" : "no") : "-", c.needs});
    }
  }
  return t;
}

Table subset_table(const AttributionResult& r) {
  Table t(
      {"tok_s_per_user_min", "factors_at_target", "tok_s_per_gpu", "usd_per_mtok", "deployment"});
  for (std::size_t l = 0; l < r.setup.levels.size(); ++l) {
    for (std::uint32_t m = 0; m <= r.full_mask(); ++m) {
      const auto& b = r.best[l][m];
      t.add_row({format_number(r.setup.levels[l], 3), subset_name(r.factors, m),
                 b ? format_number(b->tok_s_per_gpu) : "-",
                 b ? optional_text(b->usd_per_mtok, 3) : "-",
                 b ? b->deployment : "cannot reach this level"});
    }
  }
  return t;
}

std::string attribution_json(const AttributionResult& r) {
  const auto best_json = [](const std::optional<SubsetBest>& b) -> std::string {
    if (!b) return "null";
    return "{\"tok_s_per_gpu\": " + format_number(b->tok_s_per_gpu, 6) +
           ", \"usd_per_mtok\": " + optional_json(b->usd_per_mtok) +
           ", \"deployment\": " + quoted(b->deployment) + "}";
  };
  const AttributionSetup& s = r.setup;
  std::string out = "{\"model\": " + quoted(s.base.model) +
                    ", \"isl\": " + std::to_string(s.base.isl) +
                    ", \"osl\": " + std::to_string(s.base.osl) + ",\n\"factors\": [";
  for (std::size_t i = 0; i < r.factors.size(); ++i) {
    const std::string change = describe_change(s, r.factors[i]);
    const auto arrow = change.find(" -> ");
    out += std::string(i > 0 ? ",\n  " : "\n  ") +
           "{\"name\": " + quoted(std::string(factor_name(r.factors[i]))) +
           ", \"baseline\": " + quoted(change.substr(0, arrow)) +
           ", \"target\": " + quoted(change.substr(arrow + 4)) + "}";
  }
  out += "],\n\"levels\": [";
  for (std::size_t l = 0; l < s.levels.size(); ++l) {
    out += std::string(l > 0 ? "," : "") +
           "\n  {\"tok_s_per_user\": " + format_number(s.levels[l], 6) +
           ",\n   \"baseline\": " + best_json(r.best[l][0]) +
           ",\n   \"target\": " + best_json(r.best[l][r.full_mask()]) +
           (r.best[l][0] ? "" : ",\n   \"baseline_note\": " + quoted(unreachable_text(r, l))) +
           ",\n   \"throughput_ratio\": " + optional_json(ratio(r, l, r.full_mask(), 0, false)) +
           ", \"cost_ratio\": " + optional_json(ratio(r, l, r.full_mask(), 0, true));
    const auto shares = [&](const std::optional<std::vector<FactorShare>>& v, bool after) {
      if (!v) return std::string("null");
      std::string a = "[";
      for (std::size_t i = 0; i < v->size(); ++i) {
        const FactorShare& f = (*v)[i];
        a += std::string(i > 0 ? ",\n     " : "\n     ") +
             "{\"factor\": " + quoted(std::string(factor_name(f.factor))) +
             ", \"throughput_factor\": " + format_number(f.throughput, 6) +
             ", \"cost_factor\": " + optional_json(f.cost);
        if (after) {
          a += ", \"tok_s_per_gpu\": " + format_number(f.after->tok_s_per_gpu, 6) +
               ", \"usd_per_mtok\": " + optional_json(f.after->usd_per_mtok) +
               ", \"deployment\": " + quoted(f.after->deployment);
        }
        a += "}";
      }
      return a + "]";
    };
    out += ",\n   \"waterfall\": " + shares(r.waterfall(l), true);
    out += ",\n   \"shapley\": " + shares(r.shapley(l), false);
    out += ",\n   \"claims\": [";
    const std::vector<Claim> claims = claims_at(r, l);
    for (std::size_t i = 0; i < claims.size(); ++i) {
      const Claim& c = claims[i];
      out += std::string(i > 0 ? ",\n     " : "\n     ") + "{\"claim\": " + quoted(c.name) +
             ", \"claimed\": " + format_number(c.claimed, 6) +
             ", \"simulated\": " + optional_json(c.simulated) + ", \"holds\": " +
             (c.simulated ? (*c.simulated >= c.claimed ? "true" : "false") : "null") +
             ", \"factors_needed\": " + quoted(c.needs) + "}";
    }
    out += "]}";
  }
  out += "],\n\"subsets\": " + subset_table(r).to_json() + "}\n";
  return out;
}

std::string attribution_svg(const AttributionResult& r) {
  WaterfallSpec spec;
  spec.title = r.setup.base.model + ", " + std::to_string(r.setup.base.isl) + "/" +
               std::to_string(r.setup.base.osl) + ": " + r.setup.system[0] + " baseline to " +
               r.setup.system[1] + " target, factor by factor";
  spec.y_label = "output tokens/s per GPU (log scale)";
  for (std::size_t l = 0; l < r.setup.levels.size(); ++l) {
    WaterfallPanel panel;
    panel.title = ">= " + format_number(r.setup.levels[l], 3) + " tok/s per user";
    const auto& base = r.best[l][0];
    const auto fall = r.waterfall(l);
    if (!base || !fall) {
      std::uint32_t mask = 0;  // the first subset of the waterfall's path that cannot
      for (std::size_t i = 0; r.best[l][mask] && i < r.factors.size(); ++i) mask |= 1u << i;
      panel.note = "cannot reach this level: " +
                   (mask == 0 ? std::string("the baseline") : subset_name(r.factors, mask));
      spec.panels.push_back(panel);
      continue;
    }
    panel.bars.push_back(
        {"baseline", 0.0, base->tok_s_per_gpu, true, format_number(base->tok_s_per_gpu, 3)});
    double at = base->tok_s_per_gpu;
    for (const FactorShare& f : *fall) {
      panel.bars.push_back({std::string(factor_name(f.factor)), at, f.after->tok_s_per_gpu, false,
                            "x" + format_number(f.throughput, 3)});
      at = f.after->tok_s_per_gpu;
    }
    panel.bars.push_back({"target", 0.0, at, true, format_number(at, 3)});
    spec.panels.push_back(panel);
  }
  return render_waterfall_svg(spec);
}

}  // namespace moesim::study
