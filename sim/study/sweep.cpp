#include "sim/study/sweep.hpp"

#include <algorithm>
#include <limits>
#include <mutex>
#include <string_view>
#include <thread>

#include "sim/config/config_node.hpp"
#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/cost/stack.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"
#include "sim/llm/model.hpp"
#include "sim/serve/metrics.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/scenario.hpp"
#include "sim/step/step_models.hpp"
#include "sim/study/parallel.hpp"
#include "sim/study/pareto.hpp"

namespace moesim::study {
namespace {

/// The fewest requests a point sends (point_requests).
constexpr std::int64_t kMinRequests = 64;
/// Prompt tokens a prefill instance takes per step (TensorRT-LLM's max_num_tokens default of
/// 8192: NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py).
constexpr std::int32_t kPrefillTokensPerStep = 8192;
/// Prompts a prefill instance holds at once (they wait there for a decode slot).
constexpr std::int32_t kPrefillBatch = 64;

/// Prefix of the reason of a point that hit a broken invariant (a bug, recorded so that one
/// point does not end the sweep; SweepResult::internal_errors counts them).
constexpr std::string_view kInternalError = "internal error (please report): ";

/// A YAML double-quoted scalar.
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string pool_yaml(const SweepPool& p, const std::string& extra) {
  std::string out = "{instances: " + std::to_string(p.instances) +
                    ", tp: " + std::to_string(p.gpus_per_instance()) +
                    ", ep: " + std::to_string(p.ep) +
                    ", attention_dp: " + std::to_string(p.attention_dp) +
                    ", max_batch_size: " + std::to_string(p.max_batch_size) +
                    ", max_num_tokens: " + std::to_string(p.max_num_tokens) +
                    ", chunked_prefill_size: " + std::to_string(p.chunk);
  if (p.redundant_experts > 0) {
    out += ", plan: {redundant_experts: " + std::to_string(p.redundant_experts) + "}";
  }
  if (!extra.empty()) out += ", " + extra;
  return out + "}";
}

/// What the probe of a deployment found: why it cannot run, or the sequences it runs at once.
struct Probe {
  std::string error;
  std::int64_t capacity = 0;  ///< per simulated instance set (file comment, rule 2)
};

/// Sequences a pool's ranks can hold at once: min(max_batch_size, KV reservations that fit a
/// rank) x attention_dp x instances, a reservation being isl + osl + k tokens in whole blocks
/// (guaranteed_no_evict).
std::int64_t pool_capacity(const serve::PoolConfig& pool, std::int64_t tokens_per_sequence) {
  const std::int64_t blocks_per_seq =
      (tokens_per_sequence + pool.kv_block_size - 1) / pool.kv_block_size;
  const std::int64_t fit = pool.blocks_per_rank() / std::max<std::int64_t>(blocks_per_seq, 1);
  return std::min<std::int64_t>(pool.limits.max_batch_size, fit) * pool.attention_dp *
         pool.instances;
}

Probe probe(const SweepBase& base, const SweepDeployment& d, const config::Catalog& catalog) {
  Probe out;
  try {
    const std::string yaml = scenario_yaml(base, d, 1);
    serve::Scenario sc = serve::parse_scenario(config::ConfigNode::parse(yaml, d.label()), catalog);
    const step::BuiltModels built = step::build_step_models(sc, catalog);
    const serve::EngineConfig ec = sc.engine_config();
    const std::int64_t per_seq = base.isl + base.osl + d.mtp_draft_tokens;
    out.capacity = pool_capacity(ec.primary, per_seq);
    if (ec.disaggregated) out.capacity += pool_capacity(ec.decode, per_seq);
    if (out.capacity < 1) out.error = "KV cache holds no whole request";
  } catch (const ConfigError& e) {
    out.error = e.what();
  } catch (const InvariantError& e) {
    out.error = std::string(kInternalError) + e.what();
  }
  return out;
}

void simulate(const SweepBase& base, const SweepDeployment& d, SweepPoint& p, std::int32_t per_unit,
              const std::optional<serve::Pricing>& pricing, const config::Catalog& catalog) {
  try {
    serve::Scenario sc = serve::parse_scenario(
        config::ConfigNode::parse(scenario_yaml(base, d, per_unit), p.label), catalog);
    const step::BuiltModels built = step::build_step_models(sc, catalog);
    const serve::RunResult r =
        serve::run_serving(sc.engine_config(), sc.workload, built.models.view(), sc.seed, pricing);
    const serve::RunMetrics& m = r.metrics;
    p.simulated = true;
    p.output_tok_s_per_gpu = m.output_tok_s_per_gpu;
    // Undefined when every OSL is 1 (no TPOT): 0, which meets no tok_s_per_user lower limit.
    p.tok_s_per_user = m.tok_s_per_user.value_or(0.0);
    p.ttft_p90_ms = m.ttft_ms.p90;
    p.ttft_p99_ms = m.ttft_ms.p99;
    p.tpot_p90_ms = m.tpot_ms.p90;
    p.cost_usd_per_mtok = m.cost_usd_per_mtok;
    p.joules_per_token = m.joules_per_token;
    for (const serve::PoolMetrics& pool : m.pools) {
      p.extrapolated_share = std::max(p.extrapolated_share, pool.extrapolated_share);
    }
  } catch (const ConfigError& e) {
    p.pruned = std::string("failed: ") + e.what();
  } catch (const InvariantError& e) {
    p.pruned = std::string(kInternalError) + e.what();
  }
}

}  // namespace

SweepSpace SweepSpace::standard() { return SweepSpace{}; }

SweepSpace SweepSpace::quick() {
  SweepSpace s;
  // TP8 is the low-latency plan of both systems (published/cases.yaml trtllm-dsr1-*-minlat-*);
  // TP4 is kept for NVFP4 on 186 GB GPUs, where it fits.
  s.tp_sizes = {4, 8};
  // Attention DP + EP: one HGX server (8), wide EP over 2 and 4 servers (16, 32), and the
  // whole NVL72 rack (72, with 32 redundant experts) (MODELING.md, "Wide EP").
  s.ep_widths = {8, 16, 32, 72};
  s.max_batch_sizes = {256};
  s.mtp_draft_tokens = {0, 3};
  // For 1k/1k, aggregated serving with chunked prefill is within the disaggregation gains'
  // low end; disaggregation is left to `moesim sweep`.
  s.disagg_ratios = {};
  // Every power of 2 up to 256 per instance, where the interactive end of the frontier lies and
  // points are cheap; then powers of 4 (1024, 4096, 16384: a point costs about its request
  // count, 3c) up to an NVL72 ADP72 instance's batch capacity (256 x 72 = 18432, added as a
  // rung).
  s.ladder_stride = 2;
  s.dense_ladder_until = 256;
  s.max_concurrency = 16384;
  return s;
}

std::string describe_plan(const SweepPool& p) {
  std::string out =
      p.attention_dp > 1 ? "ADP" + std::to_string(p.attention_dp) : "TP" + std::to_string(p.tp);
  if (p.attention_dp > 1 && p.tp > 1) out += " TP" + std::to_string(p.tp);
  if (p.ep > 1) out += " EP" + std::to_string(p.ep);
  if (p.redundant_experts > 0) out += "(+" + std::to_string(p.redundant_experts) + "r)";
  return out;
}

std::string SweepDeployment::label() const {
  std::string out;
  if (disaggregated) {
    const std::string on = prefill_system.empty() ? "" : prefill_system + " ";
    out = "disagg " + std::to_string(primary.instances) + "P(" + on + describe_plan(primary) +
          "):" + std::to_string(decode.instances) + "D(" + describe_plan(decode) + ") mb" +
          std::to_string(decode.max_batch_size);
  } else {
    out = describe_plan(primary);
    if (primary.instances > 1) out += " x" + std::to_string(primary.instances);
    out += " mb" + std::to_string(primary.max_batch_size);
  }
  if (mtp_draft_tokens > 0) out += " +MTP" + std::to_string(mtp_draft_tokens);
  return out;
}

std::size_t SweepResult::simulated() const {
  return static_cast<std::size_t>(
      std::count_if(points.begin(), points.end(), [](const SweepPoint& p) { return p.simulated; }));
}

std::size_t SweepResult::pruned() const { return points.size() - simulated(); }

std::size_t SweepResult::internal_errors() const {
  return static_cast<std::size_t>(std::count_if(points.begin(), points.end(), [](const auto& p) {
    return p.pruned.find(kInternalError) != std::string::npos;
  }));
}

std::vector<SweepDeployment> enumerate_deployments(const SweepBase& base, const SweepSpace& space,
                                                   const config::Catalog& catalog) {
  // Found by the fuzz test: --max-concurrency 2147483648 reached here as -2^31, which left the
  // concurrency ladder empty and crashed the sweep (SIGSEGV on the empty ladder's back()).
  if (space.max_concurrency < 1) {
    throw ConfigError({"<sweep>", 0, 0}, "max_concurrency", "a ladder top from 1 to 2147483647",
                      std::to_string(space.max_concurrency));
  }
  const llm::ModelSpec model = llm::load_model(catalog, base.model);
  const hw::SystemSpec system = hw::load_system(catalog, base.system);
  const std::int32_t domain = std::max(system.domain_size, 1);
  const std::int64_t experts = model.moe ? model.moe->num_experts : 0;
  std::vector<std::int32_t> mtps;
  const auto rates = static_cast<std::int32_t>(model.mtp_acceptance.size());
  for (const std::int32_t k : space.mtp_draft_tokens) {
    if (k < 0 || k > 3) {
      throw ConfigError({"<sweep>", 0, 0}, "mtp_draft_tokens", "0 to 3", std::to_string(k));
    }
    // Draft positions need the card's measured acceptance rates (mtp.acceptance).
    if (k == 0 || (model.mtp_layers > 0 && k <= rates)) mtps.push_back(k);
  }
  auto adp_pool = [&](std::int32_t n) {
    SweepPool p;
    p.attention_dp = n;
    p.ep = n;
    p.redundant_experts = static_cast<std::int32_t>((n - experts % n) % n);
    p.instances = n <= domain ? domain / n : 1;
    return p;
  };
  // Plans of one aggregated instance (batch limits are set below).
  std::vector<SweepPool> plans;
  for (const std::int32_t t : space.tp_sizes) {
    if (t < 1 || t > domain || domain % t != 0) continue;
    SweepPool p;
    p.tp = t;
    p.instances = domain / t;
    plans.push_back(p);
    if (t > 1 && model.moe) {
      p.ep = t;
      plans.push_back(p);
    }
  }
  if (model.moe) {
    for (const std::int32_t n : space.ep_widths) {
      if (n < 2) continue;
      if (n > domain && (n % domain != 0 || n / domain > space.max_domains)) continue;
      plans.push_back(adp_pool(n));
    }
  }
  std::vector<SweepDeployment> out;
  for (const SweepPool& plan : plans) {
    for (const std::int32_t mb : space.max_batch_sizes) {
      for (const std::int32_t k : mtps) {
        SweepDeployment d;
        d.primary = plan;
        d.primary.max_batch_size = mb;
        d.primary.chunk = space.max_num_tokens;
        d.primary.max_num_tokens = mb * (1 + k) + space.max_num_tokens;
        d.mtp_draft_tokens = k;
        d.mtp_acceptance.assign(model.mtp_acceptance.begin(), model.mtp_acceptance.begin() + k);
        out.push_back(d);
      }
    }
  }
  // Disaggregated: decode on ADP n EP n inside one domain (by default the widest of ep_widths),
  // prefill on TP n EP n.
  std::vector<std::int32_t> decode_widths;
  if (space.disagg_decode_widths.empty()) {
    std::int32_t widest = 0;
    for (const std::int32_t n : space.ep_widths) {
      if (n >= 2 && n <= domain) widest = std::max(widest, n);
    }
    if (widest > 0) decode_widths.push_back(widest);
  } else {
    for (const std::int32_t n : space.disagg_decode_widths) {
      if (n >= 2 && n <= domain &&
          std::find(decode_widths.begin(), decode_widths.end(), n) == decode_widths.end()) {
        decode_widths.push_back(n);
      }
    }
  }
  // Mixed hardware: the prefill instances fit the prefill system's NVLink domain.
  std::string prefill_system;
  std::int32_t prefill_domain = domain;
  if (!base.prefill_system.empty()) {
    const hw::SystemSpec ps = hw::load_system(catalog, base.prefill_system);
    prefill_domain = std::max(ps.domain_size, 1);
    if (ps.name != system.name) prefill_system = ps.name;
  }
  const std::int32_t prefill_tp = std::min(space.disagg_prefill_tp, prefill_domain);
  if (!model.moe || prefill_tp < 1) decode_widths.clear();
  for (const std::int32_t decode_width : decode_widths) {
    for (const DisaggRatio& r : space.disagg_ratios) {
      for (const std::int32_t mb : space.max_batch_sizes) {
        for (const std::int32_t k : mtps) {
          SweepDeployment d;
          d.disaggregated = true;
          d.primary.tp = prefill_tp;
          d.primary.ep = prefill_tp > 1 ? prefill_tp : 1;
          d.primary.instances = r.prefill;
          d.primary.max_batch_size = kPrefillBatch;
          d.primary.max_num_tokens = kPrefillTokensPerStep;
          d.primary.chunk = kPrefillTokensPerStep;
          d.decode = adp_pool(decode_width);
          d.decode.instances = r.decode;
          d.decode.max_batch_size = mb;
          d.decode.max_num_tokens = mb * (1 + k);
          d.mtp_draft_tokens = k;
          d.mtp_acceptance.assign(model.mtp_acceptance.begin(), model.mtp_acceptance.begin() + k);
          d.prefill_system = prefill_system;
          out.push_back(d);
        }
      }
    }
  }
  return out;
}

std::int64_t point_requests(std::int32_t concurrency) {
  return std::max(3 * std::int64_t{concurrency}, kMinRequests);
}

std::vector<std::int32_t> concurrency_ladder(const SweepSpace& space) {
  std::vector<std::int32_t> out;
  const std::int32_t stride = std::max(space.ladder_stride, 1);
  std::int64_t c = 1;
  for (std::int32_t j = 0; c <= space.max_concurrency; ++j, c *= 2) {
    if (j % stride == 0 || c <= space.dense_ladder_until) {
      out.push_back(static_cast<std::int32_t>(c));
    }
  }
  return out;
}

std::string scenario_yaml(const SweepBase& base, const SweepDeployment& d,
                          std::int32_t concurrency) {
  const std::int64_t c = concurrency;
  const std::int64_t requests = point_requests(concurrency);
  std::string y = "name: " + quoted(d.label() + " c" + std::to_string(c)) + "\n";
  y += "model: " + quoted(base.model) + "\n";
  y += "system: " + quoted(base.system) + "\n";
  if (!base.precision.empty()) y += "precision: " + base.precision + "\n";
  y += "prices: " + quoted(base.price_sheet) + "\n";
  if (!base.stack.empty()) y += "stack: " + quoted(base.stack) + "\n";
  y += "seed: " + std::to_string(base.seed) + "\n";
  y += "deployment:\n";
  if (d.disaggregated) {
    std::string extra = base.extra_pool_yaml;
    if (!d.prefill_system.empty()) {
      extra = "system: " + quoted(base.prefill_system) + (extra.empty() ? "" : ", " + extra);
    }
    y += "  prefill: " + pool_yaml(d.primary, extra) + "\n";
    y += "  decode: " + pool_yaml(d.decode, base.extra_pool_yaml) + "\n";
  } else {
    SweepPool one = d.primary;
    one.instances = 1;
    y += "  aggregated: " + pool_yaml(one, base.extra_pool_yaml) + "\n";
  }
  if (d.mtp_draft_tokens > 0) {
    y += "speculative: {method: mtp, draft_tokens: " + std::to_string(d.mtp_draft_tokens) +
         ", acceptance: [";
    MOESIM_ASSERT(d.mtp_acceptance.size() == static_cast<std::size_t>(d.mtp_draft_tokens),
                  "one acceptance rate per draft position");
    for (std::int32_t i = 0; i < d.mtp_draft_tokens; ++i) {
      y += (i > 0 ? ", " : "") + format_number(d.mtp_acceptance[static_cast<std::size_t>(i)], 6);
    }
    y += "]}\n";
  }
  y += "workload:\n";
  y += "  requests: " + std::to_string(requests) + "\n";
  y += "  warmup: " + std::to_string(c) + "\n";
  y += "  arrival: {process: closed_loop, concurrency: " + std::to_string(c) + "}\n";
  y += "  isl: " + std::to_string(base.isl) + "\n";
  y += "  osl: " + std::to_string(base.osl) + "\n";
  if (!base.extra_yaml.empty()) y += base.extra_yaml + "\n";
  return y;
}

SweepResult run_sweep(const SweepBase& base, const SweepSpace& space,
                      const config::Catalog& catalog, const SweepOptions& options) {
  SweepResult result;
  result.base = base;
  const hw::SystemSpec system = hw::load_system(catalog, base.system);
  result.system_name = system.name;
  result.stack = cost::load_stack(catalog, base.stack.empty() ? system.stack : base.stack).name;
  const hw::PriceSheet sheet = hw::load_price_sheet(catalog, base.price_sheet);
  std::optional<serve::Pricing> pricing;
  if (const hw::PriceEntry* entry = sheet.find(system.name)) {
    pricing = serve::pricing_from(*entry);
    result.price_source = sheet.name() + " (" + sheet.location().file + "): " + entry->price_source;
  } else {
    result.price_source =
        "no entry for '" + system.name + "' in " + sheet.location().file + ": no cost or energy";
  }
  // Mixed hardware: disaggregated points price each pool at its own system's entry.
  std::optional<serve::Pricing> mixed_pricing = pricing;
  if (!base.prefill_system.empty()) {
    const std::string prefill = hw::load_system(catalog, base.prefill_system).name;
    mixed_pricing = serve::pricing_for(sheet, prefill, system.name);
    if (!mixed_pricing) {
      result.price_source += "; no entry for prefill system '" + prefill + "' in " +
                             sheet.location().file + ": no cost or energy for disaggregated points";
    } else if (prefill != system.name) {
      result.price_source += "; disaggregated prefill pools: " + prefill;
    }
  }
  result.deployments = enumerate_deployments(base, space, catalog);
  const unsigned jobs =
      options.jobs > 0 ? options.jobs : std::max(1u, std::thread::hardware_concurrency());

  // Probe every deployment once: memory fit and capacity (pruning rules 1 and 2).
  std::vector<Probe> probes(result.deployments.size());
  parallel_for(probes.size(), jobs,
               [&](std::size_t i) { probes[i] = probe(base, result.deployments[i], catalog); });

  std::vector<std::int32_t> per_unit;  // concurrency per simulated instance set, by point
  for (std::size_t i = 0; i < result.deployments.size(); ++i) {
    const SweepDeployment& d = result.deployments[i];
    const std::string name = d.label();
    if (!probes[i].error.empty()) {
      SweepPoint p;
      p.deployment = i;
      p.label = name;
      p.pruned = "memory or plan: " + probes[i].error;
      result.points.push_back(p);
      per_unit.push_back(0);
      continue;
    }
    // The ladder plus the capacity itself (when inside it), so that the deployment's full
    // batch is measured without queueing; rungs above the capacity are pruned.
    SweepSpace scaled = space;
    if (d.disaggregated) {  // in 64 bits: the product overflowed int32 for a ladder top near 2^31
      scaled.max_concurrency = static_cast<std::int32_t>(
          std::min<std::int64_t>(std::int64_t{space.max_concurrency} * d.decode.instances,
                                 std::numeric_limits<std::int32_t>::max()));
    }
    std::vector<std::int32_t> ladder = concurrency_ladder(scaled);
    const auto cap = static_cast<std::int32_t>(
        std::min<std::int64_t>(probes[i].capacity, std::numeric_limits<std::int32_t>::max()));
    if (cap < ladder.back() && std::find(ladder.begin(), ladder.end(), cap) == ladder.end()) {
      ladder.insert(std::upper_bound(ladder.begin(), ladder.end(), cap), cap);
    }
    for (const std::int32_t c : ladder) {
      SweepPoint p;
      p.deployment = i;
      p.concurrency = c * d.simulated_instances();
      p.label = name + " c" + std::to_string(p.concurrency);
      if (options.prune && c > cap) {
        p.pruned = "capacity: " + std::to_string(c) + " > " + std::to_string(cap) +
                   " sequences it runs at once (per instance); only queues";
      }
      result.points.push_back(p);
      per_unit.push_back(c);
    }
  }

  // Work items: single points, or with an interactivity floor one deployment's ladder each (in
  // ascending concurrency, stopping below the floor).
  const bool floor = options.min_tok_s_per_user > 0.0;
  std::vector<std::vector<std::size_t>> todo;
  std::size_t to_simulate = 0;
  for (std::size_t i = 0; i < result.points.size(); ++i) {
    if (!result.points[i].pruned.empty()) continue;
    const bool same_ladder =
        floor && !todo.empty() &&
        result.points[todo.back().back()].deployment == result.points[i].deployment;
    if (!same_ladder) todo.emplace_back();
    todo.back().push_back(i);
    ++to_simulate;
  }
  const auto start = std::chrono::steady_clock::now();
  std::mutex progress_mutex;
  std::size_t done = 0;
  parallel_for(todo.size(), jobs, [&](std::size_t k) {
    bool below = false;
    for (const std::size_t i : todo[k]) {
      SweepPoint& p = result.points[i];
      const SweepDeployment& d = result.deployments[p.deployment];
      if (below) {
        p.pruned = "below the interactivity floor of " + format_number(options.min_tok_s_per_user) +
                   " tok/s per user";
      } else {
        simulate(base, d, p, per_unit[i], d.disaggregated ? mixed_pricing : pricing, catalog);
        below = floor && p.simulated && p.tok_s_per_user < options.min_tok_s_per_user;
      }
      const std::lock_guard lock(progress_mutex);
      ++done;
      if (options.progress) {
        options.progress(done, to_simulate, std::chrono::steady_clock::now() - start);
      }
    }
  });

  std::vector<double> x, y;
  std::vector<std::size_t> index;
  for (std::size_t i = 0; i < result.points.size(); ++i) {
    if (!result.points[i].simulated) continue;
    x.push_back(result.points[i].tok_s_per_user);
    y.push_back(result.points[i].output_tok_s_per_gpu);
    index.push_back(i);
  }
  for (const std::size_t f : pareto_frontier(x, y)) {
    result.frontier.push_back(index[f]);
    result.points[index[f]].on_frontier = true;
  }
  return result;
}

}  // namespace moesim::study
