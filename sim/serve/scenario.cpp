#include "sim/serve/scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/llm/model.hpp"
#include "sim/serve/analytic_step_model.hpp"

namespace moesim::serve {

namespace {

std::int32_t read_count(const config::ConfigNode& node, std::int64_t least) {
  const std::int64_t v = node.as_int();
  if (v < least || v > std::numeric_limits<std::int32_t>::max()) {
    node.fail("a whole number from " + std::to_string(least) + " to 2147483647");
  }
  return static_cast<std::int32_t>(v);
}

PoolScenario read_pool(const config::ConfigNode& node, PoolRole role) {
  node.check_keys({"instances", "tp", "ep", "attention_dp", "pp", "max_batch_size",
                   "max_num_tokens", "chunked_prefill_size", "kv_block_size", "kv_policy",
                   "kv_memory_fraction", "kv_capacity_tokens", "plan", "system"});
  PoolScenario ps;
  ps.node = node;
  PoolConfig& p = ps.pool;
  p.role = role;
  auto opt_count = [&](const char* key, std::int32_t fallback, std::int64_t least) {
    const auto n = node.get(key);
    return n ? read_count(*n, least) : fallback;
  };
  p.instances = opt_count("instances", 1, 1);
  ps.tp = opt_count("tp", 1, 1);
  ps.ep = opt_count("ep", 1, 1);
  ps.pp = opt_count("pp", 1, 1);
  p.attention_dp = opt_count("attention_dp", 1, 1);
  if (ps.tp % p.attention_dp != 0) {
    node.at("attention_dp").fail("a divisor of tp (" + std::to_string(ps.tp) + ")");
  }
  if (ps.tp % ps.ep != 0) node.at("ep").fail("a divisor of tp (" + std::to_string(ps.tp) + ")");
  if (std::int64_t{ps.tp} * ps.pp > hw::kMaxClusterGpus) {  // and tp x pp fits int32
    node.at(ps.pp > 1 ? "pp" : "tp")
        .fail("tp x pp of at most " + std::to_string(hw::kMaxClusterGpus) +
              " GPUs per instance (the most a simulated cluster holds)");
  }
  p.gpus_per_instance = ps.tp * ps.pp;
  p.limits.max_batch_size = read_count(node.at("max_batch_size"), 1);
  p.limits.max_num_tokens = read_count(node.at("max_num_tokens"), 1);
  p.limits.chunked_prefill_size = opt_count("chunked_prefill_size", 0, 0);
  p.kv_block_size = opt_count("kv_block_size", kDefaultKvBlockSize, 1);
  p.kv_policy = KvPolicy::kGuaranteedNoEvict;
  if (const auto pol = node.get("kv_policy")) {
    if (pol->as_choice({"guaranteed_no_evict", "max_utilization"}) == "max_utilization") {
      p.kv_policy = KvPolicy::kMaxUtilization;
    }
  }
  if (const auto f = node.get("kv_memory_fraction")) {
    ps.kv_memory_fraction = f->as_double();
    if (!(ps.kv_memory_fraction > 0.0 && ps.kv_memory_fraction <= 1.0)) {
      f->fail("a fraction in (0, 1]");
    }
  }
  if (const auto c = node.get("kv_capacity_tokens")) {
    const std::int64_t v = c->as_int();
    if (v < 1) c->fail("a positive number of tokens");
    p.kv_capacity_tokens = v;
    ps.kv_capacity_given = true;
  }
  if (const auto plan = node.get("plan")) {
    if (!plan->is_map()) plan->fail("a map of parallel-plan options");
    ps.plan = *plan;
  }
  if (const auto sys = node.get("system")) {
    // Mixed hardware puts the prefill and decode pools on different systems; an aggregated
    // pool runs both phases on one system, the top-level one.
    if (role == PoolRole::kAggregated) {
      sys->fail(
          "no `system` on an aggregated pool: set the top-level `system`, or split the "
          "deployment into `prefill` and `decode` pools, each with its own `system`",
          sys->describe());
    }
    ps.system = *sys;
  }
  return ps;
}

/// The model card's measured MTP acceptance rates (mtp.acceptance; empty when it gives none).
std::vector<double> card_acceptance(const config::ConfigNode& model,
                                    const config::Catalog& catalog) {
  const llm::ModelSpec m =
      model.is_scalar() ? llm::load_model(catalog, model.as_string()) : llm::parse_model(model);
  return m.mtp_acceptance;
}

SpecDecodeConfig read_spec(const config::ConfigNode& node, const config::ConfigNode& model,
                           const config::Catalog& catalog) {
  node.check_keys({"method", "draft_tokens", "acceptance"});
  SpecDecodeConfig spec;
  if (node.at("method").as_choice({"none", "mtp"}) == "none") {
    for (const char* key : {"draft_tokens", "acceptance"}) {
      if (const auto n = node.get(key)) n->fail("nothing with method none", n->describe());
    }
    return spec;
  }
  const std::int32_t k = read_count(node.at("draft_tokens"), 1);
  const auto acc = node.get("acceptance");
  if (!acc) {
    // Default: the first k conditional rates the model card gives (measured on one dataset).
    const std::vector<double> rates = card_acceptance(model, catalog);
    if (rates.size() < static_cast<std::size_t>(k)) {
      const std::string card = model.is_scalar() ? " " + model.as_string() : "";
      throw ConfigError(node.location(), node.key_path() + ".acceptance",
                        "an acceptance rate for each of the " + std::to_string(k) +
                            " draft tokens: the model card" + card + " gives " +
                            std::to_string(rates.size()) +
                            " (mtp.acceptance), so give acceptance: explicitly",
                        "no acceptance");
    }
    spec.acceptance.assign(rates.begin(), rates.begin() + k);
    return spec;
  }
  auto probability = [](const config::ConfigNode& n) {
    const double a = n.as_double();
    if (!(a >= 0.0 && a <= 1.0)) n.fail("an acceptance rate in [0, 1]");
    return a;
  };
  if (acc->is_scalar()) {
    spec.acceptance.assign(static_cast<std::size_t>(k), probability(*acc));
    return spec;
  }
  if (acc->size() != static_cast<std::size_t>(k)) {
    acc->fail("one acceptance rate per draft token (" + std::to_string(k) + ")");
  }
  for (std::size_t i = 0; i < acc->size(); ++i) spec.acceptance.push_back(probability((*acc)[i]));
  return spec;
}

}  // namespace

SchedulingConfig parse_scheduling(const config::ConfigNode& node) {
  if (!node.is_map()) node.fail("a map of scheduler options");
  node.check_keys({"dp_routing", "adp_balance", "prefill_interval", "mixed_batches"});
  SchedulingConfig sc;
  if (const auto r = node.get("dp_routing")) {
    sc.dp_routing = r->as_choice({"least_loaded", "round_robin"}) == "round_robin"
                        ? SchedulingConfig::DpRouting::kRoundRobin
                        : SchedulingConfig::DpRouting::kLeastLoaded;
  }
  if (const auto b = node.get("adp_balance")) {
    if (b->is_map()) {
      b->check_keys({"timeout_iters", "batching_wait_iters"});
      sc.adp_balance = true;
      sc.timeout_iters = read_count(b->at("timeout_iters"), 0);
      sc.batching_wait_iters = read_count(b->at("batching_wait_iters"), 0);
    } else if (b->as_bool()) {
      b->fail("false, or a map {timeout_iters: N, batching_wait_iters: M}", "true");
    }
  }
  if (const auto i = node.get("prefill_interval")) sc.prefill_interval = read_count(*i, 1);
  if (const auto m = node.get("mixed_batches")) sc.mixed_batches = m->as_bool();
  return sc;
}

std::string describe(const SchedulingConfig& s) {
  std::string out = "attention-DP routing " + std::string(to_string(s.dp_routing)) + ", ";
  out += s.adp_balance ? "ADP balance (timeout " + std::to_string(s.timeout_iters) +
                             " steps, batching wait " + std::to_string(s.batching_wait_iters) + ")"
                       : "no ADP balance";
  out += ", new prompts every " + std::to_string(s.prefill_interval) + " step(s)";
  out += s.mixed_batches ? ", prefill and decode mixed in a step" : ", prefill steps apart";
  return out;
}

namespace {

/// Throws ConfigError at the key of `workload_node` (a class's isl or osl, or the trace) when the
/// longest request of `w` cannot fit one attention-DP rank's KV cache on pool `ps`: the check
/// Engine::submit makes as each request arrives (Engine::Impl::full_need_tokens), made before
/// the run and located. A request reserves ceil(need / block) blocks, need = input + output +
/// `draft_tokens` on an aggregated or decode pool and the input alone on a prefill pool; a rank
/// holds blocks_per_rank() blocks. Whole blocks on both sides, so the request fits exactly
/// when need <= blocks_per_rank() x block.
void check_kv_fits(const config::ConfigNode& workload_node, const WorkloadSpec& w,
                   const PoolScenario& ps, std::int32_t draft_tokens) {
  const PoolConfig& p = ps.pool;
  const bool prefill = p.role == PoolRole::kPrefill;
  const std::int64_t extra = prefill ? 0 : draft_tokens;
  const std::int64_t per_rank = p.blocks_per_rank() * p.kv_block_size;
  auto need = [&](std::int64_t isl, std::int64_t osl) { return isl + (prefill ? 0 : osl + extra); };
  const std::string reserve =
      prefill ? "the input tokens"
              : "input + output" +
                    (extra > 0 ? " + " + std::to_string(extra) + " draft tokens" : " tokens");
  const std::string room =
      "the KV cache of one attention-DP rank of " + ps.node.key_path() + ": " +
      std::to_string(per_rank) + " tokens (kv_capacity_tokens " +
      std::to_string(p.kv_capacity_tokens) + " / attention_dp " + std::to_string(p.attention_dp) +
      ", in blocks of " + std::to_string(p.kv_block_size) + "), where a request reserves " +
      reserve +
      "; to fit, ask for fewer tokens, give the pool more KV memory (kv_memory_fraction, "
      "kv_capacity_tokens, a lower-precision kv_cache, more GPUs per instance) or less "
      "attention_dp";
  if (!w.trace.empty()) {
    for (std::size_t i = 0; i < w.trace.size(); ++i) {
      const TraceRow& r = w.trace[i];
      if (need(r.input_tokens, r.output_tokens) <= per_rank) continue;
      const config::ConfigNode at = workload_node.get("trace").value_or(workload_node);
      at.fail("rows that fit " + room, "data row " + std::to_string(i + 1) + " of " +
                                           std::to_string(r.input_tokens) + " input + " +
                                           std::to_string(r.output_tokens) + " output tokens");
    }
    return;
  }
  const auto list = workload_node.get("classes");
  for (std::size_t i = 0; i < w.classes.size(); ++i) {
    const RequestClass& c = w.classes[i];
    const std::int64_t isl = c.isl.upper_bound();
    const std::int64_t osl = c.osl.upper_bound();
    if (need(isl, osl) <= per_rank) continue;
    const config::ConfigNode cn = list && i < list->size() ? (*list)[i] : workload_node;
    const std::string clamp = " (a distribution's largest value counts; `max:` clamps it)";
    // The input alone (with one output token and the drafts) does not fit: blame isl.
    const bool input = need(isl, 1) > per_rank;
    const config::ConfigNode at = cn.get(input ? "isl" : "osl").value_or(cn);
    if (input) {
      at.fail("at most " + std::to_string(std::max<std::int64_t>(per_rank - need(0, 1), 0)) +
                  " input tokens per request, to fit " + room + clamp,
              "up to " + std::to_string(isl) + " tokens");
    }
    at.fail("at most " + std::to_string(per_rank - need(isl, 0)) + " output tokens beside up to " +
                std::to_string(isl) + " input tokens, to fit " + room + clamp,
            "up to " + std::to_string(osl) + " tokens");
  }
}

/// Throws ConfigError at the `instances` of the larger pool when the deployment holds more than
/// kMaxDeploymentGpus GPUs in all its pools or, disaggregated without deployment.kv_transfer
/// (KV hand-offs routed over a cluster of all its GPUs), more than hw::kMaxClusterGpus.
void check_deployment_size(const Scenario& sc) {
  const PoolScenario* pools[] = {&sc.primary, sc.disaggregated ? &sc.decode : nullptr};
  auto gpus = [](const PoolScenario& p) {
    return std::int64_t{p.pool.instances} * p.pool.gpus_per_instance;
  };
  std::int64_t total = 0;
  const PoolScenario* largest = &sc.primary;
  for (const PoolScenario* p : pools) {
    if (p == nullptr) continue;
    total += gpus(*p);
    if (gpus(*p) > gpus(*largest)) largest = p;
  }
  const bool routed = sc.disaggregated && !sc.kv_transfer;
  const std::int64_t limit = routed ? hw::kMaxClusterGpus : kMaxDeploymentGpus;
  if (total <= limit) return;
  const std::int64_t others = total - gpus(*largest);
  const std::int64_t per_instance = largest->pool.gpus_per_instance;
  const std::int64_t most = std::max<std::int64_t>((limit - others) / per_instance, 0);
  const std::string why =
      routed ? "without deployment.kv_transfer, KV hand-offs are routed over a cluster of all "
               "the deployment's GPUs, which holds at most " +
                   std::to_string(limit) +
                   " (the routes between every pair of GPUs are stored); give kv_transfer a "
                   "fixed rate or simulate fewer instances"
             : "a simulated deployment holds at most " + std::to_string(limit) +
                   " GPUs in all its pools, as each instance is simulated step by step with its "
                   "own state; simulate fewer instances and scale the result (moesim size "
                   "sizes replicas this way)";
  largest->node.get("instances")
      .value_or(largest->node)
      .fail("at most " + std::to_string(most) + " instances of " + std::to_string(per_instance) +
                " GPUs (tp x pp): " + why,
            std::to_string(largest->pool.instances) + " instances (" + std::to_string(total) +
                " GPUs in the deployment)");
}

std::string system_name_of(const config::ConfigNode& system) {
  if (system.is_scalar()) {
    const std::filesystem::path p(system.as_string());
    return p.has_extension() ? p.stem().string() : system.as_string();
  }
  if (!system.is_map()) system.fail("a system name, a path or a map with 'name'");
  return system.at("name").as_string();
}

}  // namespace

Scenario parse_scenario(const config::ConfigNode& root, const config::Catalog& catalog) {
  root.check_keys({"name", "description", "model", "system", "precision", "seed", "prices", "stack",
                   "deployment", "speculative", "runtime", "routing", "step_model", "workload"});
  Scenario sc;
  sc.root = root;
  if (const auto n = root.get("name")) {
    sc.name = n->as_string();
  } else {
    sc.name = std::filesystem::path(root.location().file).stem().string();
  }
  if (const auto d = root.get("description")) sc.description = d->as_string();
  sc.model = root.at("model");
  sc.system = root.at("system");
  sc.system_name = system_name_of(sc.system);
  if (const auto p = root.get("precision")) {
    p->check_keys({"weights", "activations", "kv_cache", "attention", "dispatch", "combine"});
    sc.precision = *p;
  }
  if (const auto routing = root.get("routing")) {
    routing->check_keys({"popularity"});
    sc.popularity = routing->get("popularity");
  }
  const config::ConfigNode seed = root.at("seed");
  const std::int64_t seed_value = seed.as_int();
  if (seed_value < 0) seed.fail("a seed >= 0");
  sc.seed = static_cast<std::uint64_t>(seed_value);
  sc.price_sheet = root.has("prices") ? root.at("prices").as_string() : "prices";
  sc.stack = root.get("stack");

  const config::ConfigNode dep = root.at("deployment");
  dep.check_keys({"aggregated", "prefill", "decode", "kv_bytes_per_token", "kv_transfer"});
  const bool agg = dep.has("aggregated");
  const bool pre = dep.has("prefill");
  const bool dec = dep.has("decode");
  if (agg && (pre || dec)) {
    dep.fail("either 'aggregated' or 'prefill' and 'decode'", "both");
  }
  if (agg) {
    sc.primary = read_pool(dep.at("aggregated"), PoolRole::kAggregated);
  } else {
    if (!pre || !dec) dep.fail("'aggregated', or both 'prefill' and 'decode'");
    sc.disaggregated = true;
    sc.primary = read_pool(dep.at("prefill"), PoolRole::kPrefill);
    sc.decode = read_pool(dep.at("decode"), PoolRole::kDecode);
  }
  // Each pool's system: its own, else the top-level one. A pool's catalog name is checked now,
  // located at the pool's key with a did-you-mean (the top-level one when its models are built).
  for (const PoolScenario* ps : {&sc.primary, &sc.decode}) {
    if (ps->system && ps->system->is_scalar()) catalog.resolve(hw::kSystemSection, *ps->system);
  }
  sc.primary_system_name = sc.primary.system ? system_name_of(*sc.primary.system) : sc.system_name;
  sc.decode_system_name = sc.decode.system ? system_name_of(*sc.decode.system) : sc.system_name;
  if (!sc.disaggregated) sc.decode_system_name = sc.primary_system_name;
  if (const auto b = dep.get("kv_bytes_per_token")) {
    sc.kv_bytes_per_token = b->as_bytes();
    if (sc.kv_bytes_per_token->base() < 1 || *sc.kv_bytes_per_token > kMaxKvBytesPerToken) {
      b->fail(
          "a positive size up to 1 GiB such as \"35136 B\" (the largest models cache about "
          "1 MiB per token; 1 GiB keeps a prompt's KV bytes within 64 bits)");
    }
  }
  if (const auto t = dep.get("kv_transfer")) {
    t->check_keys({"latency", "bandwidth"});
    KvTransferParams kt{t->at("latency").as_duration(), t->at("bandwidth").as_bandwidth()};
    if (!(kt.bandwidth.base() > 0.0)) t->at("bandwidth").fail("a positive data rate");
    sc.kv_transfer = kt;
  }
  check_deployment_size(sc);

  if (const auto s = root.get("speculative")) sc.spec = read_spec(*s, sc.model, catalog);
  if (const auto r = root.get("runtime")) {
    r->check_keys({"step_overhead", "overlap_scheduler", "cuda_graphs", "scheduler"});
    if (const auto o = r->get("scheduler")) sc.scheduling = parse_scheduling(*o);
    if (const auto o = r->get("step_overhead")) {
      sc.host.step_overhead = o->as_duration();
      // Engines spend 0.1-10 ms of host time per step (MODELING.md "Host-side and step
      // overheads"); a minute is far above any, and keeps a run's clock far from its 106-day
      // range (found by the fuzz test: "1e6 s" overflowed it, an internal error).
      if (to_seconds(sc.host.step_overhead) > scale::kSecondsPerMinute) {
        o->fail("a host overhead of at most 60 s per step");
      }
    }
    if (const auto o = r->get("overlap_scheduler")) sc.host.overlap_scheduler = o->as_bool();
    if (const auto o = r->get("cuda_graphs")) sc.cuda_graphs = o->as_bool();
  }
  if (const auto m = root.get("step_model")) {
    AnalyticStepModel::from_config(*m);  // validates now, with locations
    sc.step_model = *m;
  }

  const config::ConfigNode w = root.at("workload");
  sc.workload_name = w.is_scalar()     ? w.as_string()
                     : w.has("preset") ? w.at("preset").as_string()
                                       : "inline";
  sc.workload_node = config::resolve_preset(w, catalog.resolver("workloads"));
  sc.workload = parse_workload(sc.workload_node);
  return sc;
}

void Scenario::check_kv_transfer_time() const {
  if (!kv_transfer || !kv_bytes_per_token) return;
  // The longest transfer: the largest prompt's KV cache at the fixed rate.
  const double bytes = static_cast<double>(workload.max_input_tokens()) *
                       static_cast<double>(kv_bytes_per_token->base());
  const double seconds = to_seconds(kv_transfer->latency) + bytes / kv_transfer->bandwidth.base();
  if (seconds <= kMaxKvTransferS) return;
  const config::ConfigNode t = root.at("deployment").at("kv_transfer");
  char found[160];
  std::snprintf(found, sizeof found, "%.3g s to move %d tokens x %lld B", seconds,
                workload.max_input_tokens(), static_cast<long long>(kv_bytes_per_token->base()));
  t.fail(
      "a latency and bandwidth that move the largest prompt's KV cache within a day (86400 "
      "s; the simulated clock holds 106 days of picoseconds)",
      found);
}

EngineConfig Scenario::engine_config() const {
  EngineConfig cfg;
  cfg.disaggregated = disaggregated;
  cfg.primary = primary.pool;
  if (disaggregated) cfg.decode = decode.pool;
  cfg.spec = spec;
  cfg.host = host;
  cfg.scheduling = scheduling.value_or(SchedulingConfig{});
  const std::string dep = "deployment.";
  for (const PoolScenario* p : {&primary, &decode}) {
    if (p == &decode && !disaggregated) continue;
    if (p->pool.kv_capacity_tokens < 1) {
      throw ConfigError(p->node.location(), p->node.key_path() + ".kv_capacity_tokens",
                        "a KV capacity: set kv_capacity_tokens or let the step-time adapter "
                        "compute it from the model and the system",
                        "none");
    }
    if (p->pool.blocks_per_rank() < 1) {
      const config::ConfigNode at = p->node.get("kv_capacity_tokens").value_or(p->node);
      throw ConfigError(at.location(), p->node.key_path() + ".kv_capacity_tokens",
                        "at least one KV block per attention-DP rank (attention_dp " +
                            std::to_string(p->pool.attention_dp) + " x kv_block_size " +
                            std::to_string(p->pool.kv_block_size) + " tokens)",
                        std::to_string(p->pool.kv_capacity_tokens) + " tokens");
    }
    check_kv_fits(workload_node, workload, *p, spec.draft_tokens());
  }
  if (disaggregated) {
    if (!kv_bytes_per_token) {
      throw ConfigError(root.location(), dep + "kv_bytes_per_token",
                        "the KV bytes per token: set it or let the step-time adapter compute it",
                        "none");
    }
    cfg.kv_bytes_per_token = *kv_bytes_per_token;
    check_kv_transfer_time();
  }
  cfg.validate();
  return cfg;
}

Scenario load_scenario(const std::filesystem::path& path, std::span<const std::string> settings,
                       const config::Catalog& catalog) {
  config::ConfigNode root = config::ConfigNode::load_file(path);
  // A setting may add an optional key the file leaves out (routing.popularity, speculative,
  // runtime.step_overhead, ...): parse_scenario checks the keys of every map, so a misspelt
  // one is still an error with a did-you-mean, located in the --set text.
  for (const std::string& s : settings) {
    root = config::with_setting(root, s, "--set", config::MissingKeys::kAdd);
  }
  return parse_scenario(root, catalog);
}

ScenarioModels analytic_models(const Scenario& scenario) {
  if (!scenario.step_model) {
    throw ConfigError(scenario.root.location(), "step_model",
                      "a step_model (impl: analytic) when no step-time adapter is connected",
                      "none");
  }
  ScenarioModels m;
  m.primary =
      std::make_unique<AnalyticStepModel>(AnalyticStepModel::from_config(*scenario.step_model));
  if (scenario.disaggregated) {
    m.decode =
        std::make_unique<AnalyticStepModel>(AnalyticStepModel::from_config(*scenario.step_model));
    if (!scenario.kv_transfer) {
      throw ConfigError(scenario.root.location(), "deployment.kv_transfer",
                        "a kv_transfer {latency, bandwidth} when no network model is connected",
                        "none");
    }
    m.kv_transfer = std::make_unique<FixedRateKvTransferModel>(scenario.kv_transfer->latency,
                                                               scenario.kv_transfer->bandwidth);
  }
  return m;
}

}  // namespace moesim::serve
