#include "sim/step/step_models.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "sim/core/error.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/llm/memory_footprint.hpp"
#include "sim/serve/analytic_step_model.hpp"
#include "sim/step/deployment.hpp"
#include "sim/step/kv_transfer_network.hpp"
#include "sim/step/plan_step_model.hpp"

namespace moesim::step {
namespace {

/// The llm plan of a pool: the pool's `plan` map (redundant experts, FFN layouts, micro
/// batches) with the pool's sizes. The pool's tp counts the GPUs of a stage (attention TP x
/// attention DP); the plan's tp is the attention TP per replica.
llm::ParallelPlan pool_plan(const serve::PoolScenario& ps) {
  const config::ConfigNode node = ps.plan ? *ps.plan : config::ConfigNode::parse("{}", "plan");
  for (const char* key : {"tp", "attention_dp", "ep", "pp"}) {
    if (const auto n = node.get(key)) {
      n->fail("no `" + std::string(key) + "` here: set it on the pool itself");
    }
  }
  llm::ParallelPlan plan = llm::parse_parallel_plan(node);
  plan.attention_dp = ps.pool.attention_dp;
  plan.tp = ps.tp / ps.pool.attention_dp;
  plan.ep = ps.ep;
  plan.pp = ps.pp;
  const llm::FfnLayout fallback =
      plan.attention_dp > 1 ? llm::FfnLayout::kReplicated : llm::FfnLayout::kSharded;
  if (!node.has("dense_ffn")) plan.dense_ffn = fallback;
  if (!node.has("shared_expert")) plan.shared_expert = fallback;
  return plan;
}

struct PoolModel {
  std::unique_ptr<serve::StepTimeModel> model;
  Bytes kv_bytes_per_token{};  ///< per GPU of the binding stage
};

/// Builds the plan-based model of one pool and fills its KV capacity when not given:
/// kv_capacity_tokens = attention_dp x floor(kv_memory_fraction x max(HBM - weights -
/// activations, 0) / KV bytes per token) on the binding stage (TensorRT-LLM's
/// free_gpu_memory_fraction: a share of the memory left after weights).
PoolModel pool_model(serve::Scenario& sc, serve::PoolScenario& ps, const config::Catalog& catalog,
                     const std::string& label, std::vector<std::string>& notes) {
  llm::ModelSpec model = load_model_node(catalog, sc.model);
  hw::SystemSpec system = load_system_node(catalog, sc.system_of(ps));
  llm::Precision precision =
      sc.precision ? llm::parse_precision(*sc.precision, model) : llm::checkpoint_precision(model);
  const llm::ParallelPlan plan = pool_plan(ps);
  cost::ComputeOptions options;
  options.cuda_graphs = sc.cuda_graphs;
  // Host time per step: an explicit runtime.step_overhead is the engine's (added by sim/serve);
  // otherwise an engine without an overlap scheduler pays the compute model's sourced fraction
  // of each GPU step (topologies/efficiency.yaml overheads.step_host_fraction).
  options.overlap_scheduler = sc.host.overlap_scheduler || sc.host.step_overhead > Duration{0};
  cost::StackProfile stack = resolve_stack(catalog, system, sc.stack);
  // Mixed hardware: a named stack prices a pool only where it covers the pool's GPU (it has no
  // calibration, as roofline, or one with fits for the GPU); elsewhere the pool's own system's
  // stack does, so that H200 prefill and GB200 decode each get measured kernels.
  if (sc.mixed() && sc.stack && stack.calibration && !stack.calibration->gpu(system.gpu.name)) {
    notes.push_back(label + ": stack " + stack.name + " has no calibration for " + system.gpu.name +
                    ": the pool uses its system's stack " + system.stack);
    stack = resolve_stack(catalog, system, std::nullopt);
  }
  notes.push_back(label + ": " + (sc.mixed() ? "on " + system.name + ", " : "") +
                  "kernels priced by stack " + stack.name +
                  (stack.description.empty() ? "" : " (" + stack.description + ")"));
  // The engine schedules as the stack's engine does unless the scenario says otherwise.
  if (!sc.scheduling && stack.scheduler) sc.scheduling = serve::parse_scheduling(*stack.scheduler);
  const std::string scheduler =
      "scheduler: " + serve::describe(sc.scheduling.value_or(serve::SchedulingConfig{}));
  if (std::find(notes.begin(), notes.end(), scheduler) == notes.end()) notes.push_back(scheduler);
  std::shared_ptr<const Deployment> d =
      make_deployment(catalog, std::move(model), std::move(system), std::move(precision), plan,
                      stack, options, 0, sc.popularity);
  for (const auto& n : d->lowering->notes()) {
    if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
  }
  const llm::TargetGpu target{d->system.gpu.name, d->system.gpu.peak_dense,
                              d->system.gpu.hbm.capacity};
  llm::MemoryOptions mem;
  mem.memory_fraction = 1.0;
  mem.max_tokens_per_step = ps.pool.limits.max_num_tokens;
  mem.include_mtp = sc.spec.draft_tokens() > 0;
  llm::check_memory_fit(d->model, d->plan, d->precision, target, mem);
  const llm::MemoryFootprint fp =
      llm::binding_footprint(d->model, d->plan, d->precision, target, mem);
  PoolModel out;
  out.kv_bytes_per_token = fp.kv_bytes_per_token;
  if (!ps.kv_capacity_given) {
    const double budget =
        static_cast<double>(std::max<std::int64_t>(fp.kv_budget.base(), 0)) * ps.kv_memory_fraction;
    const auto per_rank = static_cast<std::int64_t>(
        budget / static_cast<double>(std::max<std::int64_t>(fp.kv_bytes_per_token.base(), 1)));
    ps.pool.kv_capacity_tokens = per_rank * ps.pool.attention_dp;
    notes.push_back(label + ": KV capacity " + std::to_string(ps.pool.kv_capacity_tokens) +
                    " tokens per instance from the memory footprint");
  }
  out.model = std::make_unique<PlanStepModel>(d, label);
  return out;
}

/// The KV transfers of a disaggregated scenario: the fixed rate of `deployment.kv_transfer` when
/// given (latency + bytes / bandwidth, no link sharing), else flows on the topology of one
/// cluster that holds both pools (sim/step/kv_transfer_network.hpp): a request's KV moves from
/// every GPU of its prefill rank to its decode rank over NVLink inside a domain and the
/// scale-out NICs across domains, sharing links with the other transfers in flight. Pools on
/// different systems (mixed hardware) are joined by the scale-out fabric only, at the slower
/// side's NICs.
std::unique_ptr<serve::KvTransferModel> kv_transfer_model(const serve::Scenario& sc,
                                                          const config::Catalog& catalog,
                                                          std::vector<std::string>& notes) {
  if (sc.kv_transfer) {
    return std::make_unique<serve::FixedRateKvTransferModel>(sc.kv_transfer->latency,
                                                             sc.kv_transfer->bandwidth);
  }
  const auto shape = [](const serve::PoolScenario& ps) {
    return KvPoolShape{ps.pool.instances, ps.tp, ps.pool.attention_dp, ps.pp};
  };
  const hw::SystemSpec prefill = load_system_node(catalog, sc.system_of(sc.primary));
  std::unique_ptr<NetworkKvTransferModel> model;
  if (sc.mixed()) {
    model = std::make_unique<NetworkKvTransferModel>(
        hw::load_network_efficiency(catalog), prefill,
        load_system_node(catalog, sc.system_of(sc.decode)), shape(sc.primary), shape(sc.decode));
  } else {
    model = std::make_unique<NetworkKvTransferModel>(hw::load_network_efficiency(catalog), prefill,
                                                     shape(sc.primary), shape(sc.decode));
  }
  notes.push_back("KV transfer: " + model->describe());
  return model;
}

/// What the scenario asks of the model, checked against its card: no request longer than the
/// context length (max_position_embeddings), and MTP only on a model with MTP layers.
void check_against_model(const serve::Scenario& sc, const llm::ModelSpec& model) {
  const std::int64_t positions = model.position.max_position_embeddings;
  serve::check_max_sequence(sc.workload_node, sc.workload, positions,
                            "the context length of " + model.name + ", " +
                                std::to_string(positions) + " positions (max_position_embeddings)");
  if (sc.spec.draft_tokens() > 0 && model.mtp_layers == 0) {
    sc.root.at("speculative")
        .at("method")
        .fail("none: " + model.name + " has no MTP layers (mtp.layers is 0 or absent in its card)",
              "mtp");
  }
}

}  // namespace

BuiltModels build_step_models(serve::Scenario& scenario, const config::Catalog& catalog) {
  BuiltModels out;
  check_against_model(scenario, load_model_node(catalog, scenario.model));
  if (scenario.step_model) {
    // The analytic model prices steps without the system, but a system name that is not in
    // the catalog is the same located error as with the plan-based model, never ignored.
    if (scenario.system.is_scalar()) catalog.resolve(hw::kSystemSection, scenario.system);

    if (!scenario.disaggregated || scenario.kv_transfer) {
      out.models = serve::analytic_models(scenario);
      return out;
    }
    // Disaggregated without `kv_transfer`: analytic steps, KV transfers on the network.
    for (auto* m : {&out.models.primary, &out.models.decode}) {
      *m = std::make_unique<serve::AnalyticStepModel>(
          serve::AnalyticStepModel::from_config(*scenario.step_model));
    }
    out.models.kv_transfer = kv_transfer_model(scenario, catalog, out.notes);
    return out;
  }
  PoolModel primary = pool_model(scenario, scenario.primary, catalog,
                                 scenario.disaggregated ? "prefill" : "aggregated", out.notes);
  out.models.primary = std::move(primary.model);
  if (!scenario.kv_bytes_per_token) scenario.kv_bytes_per_token = primary.kv_bytes_per_token;
  if (scenario.disaggregated) {
    PoolModel decode = pool_model(scenario, scenario.decode, catalog, "decode", out.notes);
    out.models.decode = std::move(decode.model);
    out.models.kv_transfer = kv_transfer_model(scenario, catalog, out.notes);
  }
  return out;
}

}  // namespace moesim::step
