// Cluster sizing driven by a sweep (size_system) and its reports (sizing.hpp).
#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <thread>

#include "sim/config/config_node.hpp"
#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/scenario.hpp"
#include "sim/step/step_models.hpp"
#include "sim/study/parallel.hpp"
#include "sim/study/sizing.hpp"

namespace moesim::study {
namespace {

/// The SLA values a sweep point reports (the others stay absent).
SlaValues point_values(const SweepPoint& p) {
  SlaValues v;
  v[static_cast<std::size_t>(SlaMetric::kTtftP90)] = p.ttft_p90_ms;
  v[static_cast<std::size_t>(SlaMetric::kTtftP99)] = p.ttft_p99_ms;
  v[static_cast<std::size_t>(SlaMetric::kTpotP90)] = p.tpot_p90_ms;
  v[static_cast<std::size_t>(SlaMetric::kTokSPerUser)] = p.tok_s_per_user;
  return v;
}

/// True when `c` cannot meet `sla` on the values it already has.
bool fails_on_known(const SizingCandidate& c, std::span<const ClassSla> sla) {
  const SlaCheck check = check_sla(c, sla);
  return std::any_of(check.outcomes.begin(), check.outcomes.end(),
                     [](const ConstraintOutcome& o) { return o.value && o.margin < 0.0; });
}

/// True when some constraint needs a value `c` lacks.
bool lacks_values(const SizingCandidate& c, std::span<const ClassSla> sla) {
  for (std::size_t k = 0; k < sla.size(); ++k) {
    for (const SlaConstraint& con : sla[k].constraints) {
      if (!c.classes[k][static_cast<std::size_t>(con.metric)]) return true;
    }
  }
  return false;
}

/// The weighted mean length of the workload's classes, rounded to a whole token (>= 1).
std::int64_t mean_tokens(const serve::WorkloadSpec& w, bool input) {
  double sum = 0.0;
  double weights = 0.0;
  for (const serve::RequestClass& c : w.classes) {
    sum += c.weight * (input ? c.isl.expected() : c.osl.expected());
    weights += c.weight;
  }
  return std::max<std::int64_t>(1, std::llround(sum / weights));
}

/// Simulates the point of `d` at `per_unit` requests per simulated instance again, with the
/// sweep's scenario or, given `mix`, its classes in a closed loop; every metric of the run.
serve::RunMetrics simulate_again(const SweepBase& base, const SweepDeployment& d,
                                 std::int32_t per_unit,
                                 const std::optional<serve::WorkloadSpec>& mix,
                                 const std::optional<serve::Pricing>& pricing,
                                 const config::Catalog& catalog) {
  serve::Scenario sc = serve::parse_scenario(
      config::ConfigNode::parse(scenario_yaml(base, d, per_unit), d.label()), catalog);
  if (mix) {
    const std::int64_t c = per_unit;
    serve::WorkloadSpec w = *mix;
    w.arrival = serve::ArrivalProcess::kClosedLoop;
    w.concurrency = c;
    w.requests = point_requests(per_unit);
    w.warmup = c;
    w.trace.clear();
    w.trace_path.clear();
    sc.workload = std::move(w);
  }
  const step::BuiltModels built = step::build_step_models(sc, catalog);
  return serve::run_serving(sc.engine_config(), sc.workload, built.models.view(), sc.seed, pricing)
      .metrics;
}

std::string fmt_int(std::int64_t n) { return std::to_string(n); }

/// Dollars: whole dollars with thousands separators from $1,000 ("$46,720"), else 4 digits.
std::string fmt_usd(double usd) {
  if (usd < 1000.0) return "$" + format_number(usd, 4);
  const std::string digits = std::to_string(std::llround(usd));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return "$" + out;
}

std::string cost_cell(const SizedOption& o) {
  return o.monthly_cost ? fmt_usd(in_usd(*o.monthly_cost)) : "-";
}

std::string power_cell(const SizedOption& o, const SystemSizing& s) {
  if (!s.price) return "-";
  return format_number(in_kilowatts(o.load_power), 4) + " (idle " +
         format_number(in_kilowatts(o.idle_power), 4) + ")";
}

std::string outcome_cell(const ConstraintOutcome& o) {
  if (!o.value) return "not measured";
  const bool time = o.constraint.metric != SlaMetric::kTokSPerUser;
  return format_number(*o.value, 4) + (time ? " ms" : " tok/s") + " (" +
         (o.margin >= 0.0 ? "+" : "") + format_number(100.0 * o.margin, 3) + " %)";
}

/// The option a column shows: the winner, else the closest point.
const SizedOption* shown(const SystemSizing& s) {
  if (!s.ranked.empty()) return &s.ranked.front();
  return s.closest ? &*s.closest : nullptr;
}

}  // namespace

SystemSizing size_system(const SweepBase& base, const SweepSpace& space, const SizingQuestion& q,
                         const config::Catalog& catalog, const SweepOptions& options) {
  SweepBase b = base;
  if (q.workload) {
    b.isl = mean_tokens(*q.workload, true);
    b.osl = mean_tokens(*q.workload, false);
    MOESIM_ASSERT(q.sla.size() == q.workload->classes.size(), "one SLA per workload class");
  } else {
    MOESIM_ASSERT(q.sla.size() == 1, "one SLA for a single-class load");
  }
  const SweepResult r = run_sweep(b, space, catalog, options);
  const std::string note = stack_note(r);
  const hw::SystemSpec system = hw::load_system(catalog, b.system);
  const hw::PriceSheet sheet = hw::load_price_sheet(catalog, b.price_sheet);
  std::optional<hw::PriceEntry> price;
  std::optional<serve::Pricing> pricing;
  if (const hw::PriceEntry* e = sheet.find(system.name)) {
    price = *e;
    pricing = serve::pricing_from(*e);
  }
  // Mixed hardware: the system (and price) of the disaggregated candidates' prefill pools.
  std::optional<PrefillSystem> prefill;
  if (!b.prefill_system.empty()) {
    PrefillSystem ps{hw::load_system(catalog, b.prefill_system), std::nullopt};
    if (const hw::PriceEntry* e = sheet.find(ps.system.name)) ps.price = *e;
    if (ps.system.name != system.name) prefill = std::move(ps);
  }

  std::vector<SizingCandidate> candidates;
  std::vector<std::size_t> point_of;  // sweep point index per candidate
  for (std::size_t i = 0; i < r.points.size(); ++i) {
    const SweepPoint& p = r.points[i];
    if (!p.simulated) continue;
    const SweepDeployment& d = r.deployments[p.deployment];
    SizingCandidate c;
    // Aggregated: the label of one instance, the replica (e.g. "TP8 mb256", not "TP8 x9 mb256").
    SweepDeployment one = d;
    if (!d.disaggregated) one.primary.instances = 1;
    c.deployment = one.label();
    c.concurrency_per_replica = p.concurrency / d.simulated_instances();
    c.mixed = !d.prefill_system.empty();
    if (d.disaggregated) {
      c.replica = {{d.primary.gpus_per_instance(), d.primary.instances},
                   {d.decode.gpus_per_instance(), d.decode.instances}};
    } else {
      c.replica = {{d.primary.gpus_per_instance(), 1}};
    }
    c.output_tok_s_per_gpu = p.output_tok_s_per_gpu;
    c.classes.assign(q.sla.size(), SlaValues{});
    if (!q.workload) c.classes[0] = point_values(p);
    candidates.push_back(std::move(c));
    point_of.push_back(i);
  }

  // Points to simulate again: every point for mixed classes; else those that lack a value
  // and do not already fail on the values they have.
  std::vector<std::size_t> again;
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    if (q.workload ||
        (lacks_values(candidates[k], q.sla) && !fails_on_known(candidates[k], q.sla))) {
      again.push_back(k);
    }
  }
  std::vector<std::optional<serve::RunMetrics>> metrics(again.size());
  std::vector<std::string> errors(again.size());
  const unsigned jobs =
      options.jobs > 0 ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  parallel_for(again.size(), jobs, [&](std::size_t j) {
    const SizingCandidate& c = candidates[again[j]];
    const SweepPoint& p = r.points[point_of[again[j]]];
    try {
      metrics[j] = simulate_again(b, r.deployments[p.deployment], c.concurrency_per_replica,
                                  q.workload, pricing, catalog);
    } catch (const ConfigError& e) {
      metrics[j].reset();
      errors[j] = c.deployment + " c" + std::to_string(c.concurrency_per_replica) + ": " + e.what();
    }
  });
  std::size_t failures = 0;
  for (std::size_t j = 0; j < again.size(); ++j) {
    SizingCandidate& c = candidates[again[j]];
    if (!metrics[j]) {
      ++failures;
      c.output_tok_s_per_gpu = 0.0;  // not a candidate
      continue;
    }
    const serve::RunMetrics& m = *metrics[j];
    c.output_tok_s_per_gpu = m.output_tok_s_per_gpu;
    if (!q.workload) {
      c.classes[0] = sla_values(m.ttft_ms, m.tpot_ms, m.e2e_ms, m.tok_s_per_user);
      continue;
    }
    for (std::size_t k = 0; k < q.sla.size(); ++k) {
      for (const serve::ClassMetrics& cm : m.classes) {
        if (cm.name == q.sla[k].name && cm.requests > 0) {
          c.classes[k] = sla_values(cm.ttft_ms, cm.tpot_ms, cm.e2e_ms, cm.tok_s_per_user);
        }
      }
    }
  }
  SystemSizing out =
      size_candidates(std::move(candidates), q.load, q.sla, system, price, q.rounding, prefill);
  out.price_source = r.price_source;
  out.stack_note = note;
  out.swept_points = r.points.size();
  out.resimulated = again.size();
  out.resimulation_failures = failures;
  if (out.ranked.empty() && !out.closest) {
    const auto first =
        std::find_if(errors.begin(), errors.end(), [](const std::string& e) { return !e.empty(); });
    out.none_reason = sizing_none_reason(r, failures, first == errors.end() ? "" : *first);
  }
  return out;
}

std::string sizing_none_reason(const SweepResult& r, std::size_t failures,
                               const std::string& resimulation_failure) {
  if (r.simulated() > 0) {
    if (resimulation_failure.empty()) return "";
    return "all " + std::to_string(failures) +
           " points simulated again for their SLA metrics failed; the first: " +
           resimulation_failure;
  }
  std::string out = nothing_simulated_reason(r);
  // What to relax, per kind of prune reason (sweep.hpp, pruning rules).
  auto any = [&](std::string_view prefix) {
    return std::any_of(r.points.begin(), r.points.end(),
                       [&](const SweepPoint& p) { return p.pruned.rfind(prefix, 0) == 0; });
  };
  if (any("memory or plan: ")) {
    out +=
        "\nto relax \"memory or plan\" (the weights and one request's KV cache must fit each GPU, "
        "and the plan must divide the model): shorter requests (--isl/--osl, or a workload with "
        "shorter classes), a lower precision (--precision weights=fp8 or nvfp4, kv_cache=fp8), "
        "wider expert parallelism over more NVLink domains (--full), or a system with more GPU "
        "memory";
  }
  if (any("failed: ")) {
    out +=
        "\nto relax \"failed\" (the simulation refused the point): the reason above names the "
        "key or option to change";
  }
  return out;
}

Table sizing_table(std::span<const SystemSizing> systems, const SizingQuestion& q) {
  std::vector<std::string> header{"figure"};
  for (const SystemSizing& s : systems) header.push_back(s.system);
  Table t(header);
  auto row = [&](const std::string& name, auto&& cell) {
    std::vector<std::string> cells{name};
    for (const SystemSizing& s : systems) {
      const SizedOption* o = shown(s);
      cells.push_back(o ? cell(s, *o) : std::string("-"));
    }
    t.add_row(std::move(cells));
  };
  {
    std::vector<std::string> cells{"verdict"};
    for (const SystemSizing& s : systems) {
      cells.push_back(!s.ranked.empty() ? "cheapest that meets the SLA"
                      : s.closest       ? "no deployment meets the SLA; closest point:"
                                  : "no deployment meets the SLA (nothing simulated; see below)");
    }
    t.add_row(std::move(cells));
  }
  auto cand = [](const SystemSizing& s, const SizedOption& o) -> const SizingCandidate& {
    return s.candidates[o.candidate];
  };
  row("deployment (one replica)",
      [&](const auto& s, const auto& o) { return cand(s, o).deployment; });
  row("concurrency per replica",
      [&](const auto& s, const auto& o) { return fmt_int(cand(s, o).concurrency_per_replica); });
  row("output tok/s per GPU", [&](const auto& s, const auto& o) {
    return format_number(cand(s, o).output_tok_s_per_gpu, 4);
  });
  row("replicas", [](const auto&, const auto& o) { return fmt_int(o.allocation.replicas); });
  row("GPUs (used / paid)", [](const auto&, const auto& o) {
    return fmt_int(o.allocation.gpus_used) + " / " + fmt_int(o.allocation.gpus);
  });
  row("nodes",
      [](const auto& s, const auto& o) { return fmt_int(o.allocation.nodes) + " " + s.node_name; });
  row("NVLink domains (racks)",
      [](const auto&, const auto& o) { return fmt_int(o.allocation.domains); });
  row("price per GPU-hour", [](const auto& s, const auto&) {
    return s.price ? fmt_usd(in_usd_per_hour(s.price->price_per_gpu_hour)) : std::string("-");
  });
  row("$ per month (730 h)", [](const auto&, const auto& o) { return cost_cell(o); });
  row("kW at load", [](const auto& s, const auto& o) { return power_cell(o, s); });
  row("$ per M output tokens at the load", [](const auto&, const auto& o) {
    return o.usd_per_mtok ? fmt_usd(*o.usd_per_mtok) : std::string("-");
  });
  std::size_t n = 0;
  for (const ClassSla& c : q.sla) {
    for (const SlaConstraint& con : c.constraints) {
      const std::string name =
          (q.sla.size() > 1 ? c.name + ": " : std::string()) + con.describe() + " (margin)";
      const std::size_t index = n++;
      row(name, [index](const auto&, const auto& o) {
        return index < o.check.outcomes.size() ? outcome_cell(o.check.outcomes[index])
                                               : std::string("-");
      });
    }
  }
  return t;
}

Table runner_up_table(std::span<const SystemSizing> systems, std::size_t top) {
  Table t({"system", "rank", "deployment", "conc/replica", "replicas", "GPUs", "nodes", "domains",
           "$/month", "kW load", "$/M tok", "worst SLA margin"});
  for (const SystemSizing& s : systems) {
    for (std::size_t i = 0; i < std::min(top, s.ranked.size()); ++i) {
      const SizedOption& o = s.ranked[i];
      const SizingCandidate& c = s.candidates[o.candidate];
      t.add_row({s.system, fmt_int(static_cast<std::int64_t>(i + 1)), c.deployment,
                 fmt_int(c.concurrency_per_replica), fmt_int(o.allocation.replicas),
                 fmt_int(o.allocation.gpus), fmt_int(o.allocation.nodes),
                 fmt_int(o.allocation.domains), cost_cell(o),
                 s.price ? format_number(in_kilowatts(o.load_power), 4) : "-",
                 o.usd_per_mtok ? fmt_usd(*o.usd_per_mtok) : "-",
                 std::isfinite(o.check.worst_margin)
                     ? format_number(100.0 * o.check.worst_margin, 3) + " %"
                     : "-"});
    }
  }
  return t;
}

}  // namespace moesim::study
