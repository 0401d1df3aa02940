#include "sim/study/explain.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"
#include "sim/hw/system.hpp"
#include "sim/llm/lowering.hpp"
#include "sim/llm/precision.hpp"
#include "sim/llm/sampled_loads.hpp"
#include "sim/step/deployment.hpp"
#include "sim/step/step_timeline.hpp"

namespace moesim::study {
namespace {

std::string num(double v) { return format_number(v, 4); }

std::string stream_name(llm::StreamKind s) {
  return s == llm::StreamKind::kCompute ? "compute" : "comm";
}

}  // namespace

Explanation explain_step(const config::Catalog& catalog, const ExplainRequest& req) {
  const llm::ModelSpec model = llm::load_model(catalog, req.model);
  // A sequence never holds more tokens than the model has positions (its context length).
  const std::int64_t positions = model.position.max_position_embeddings;
  const SourceLocation command_line{"<command line>", 0, 0};
  for (const auto& [option, tokens] :
       {std::pair{"--chunk", req.chunk}, std::pair{"--context", req.context}}) {
    if (tokens < 1 || tokens > positions) {
      throw ConfigError(command_line, option,
                        "tokens from 1 to the model's context length (" + model.name +
                            ": max_position_embeddings " + std::to_string(positions) + ")",
                        std::to_string(tokens));
    }
  }
  const hw::SystemSpec system = hw::load_system(catalog, req.system);
  const llm::Precision precision =
      req.precision_yaml.empty()
          ? llm::checkpoint_precision(model)
          : llm::parse_precision(config::ConfigNode::parse(req.precision_yaml, "--precision"),
                                 model);
  const cost::StackProfile stack =
      cost::load_stack(catalog, req.stack.empty() ? system.stack : req.stack);
  const std::unique_ptr<step::Deployment> deployment =
      step::make_deployment(catalog, model, system, precision, req.plan, stack, {}, req.domains);
  const llm::Lowering& lowering = *deployment->lowering;

  // After make_deployment: the plan is checked against the GPUs before its replicas count here.
  if (req.decode) {
    const std::int64_t replicas = std::max<std::int64_t>(req.plan.attention_dp, 1);
    const std::int64_t most = std::max<std::int64_t>(kMaxExplainSequences / replicas, 1);
    if (req.batch < 1 || req.batch > most) {
      throw ConfigError(command_line, "--batch",
                        "decode sequences per attention-DP replica from 1 to " +
                            std::to_string(most) + ": a step holds at most " +
                            std::to_string(kMaxExplainSequences) + " sequences over its " +
                            std::to_string(replicas) +
                            " replicas (each is listed and lowered; engines run about 2048 "
                            "per replica)",
                        std::to_string(req.batch));
    }
  }
  std::vector<llm::SequenceWork> seqs;
  if (req.decode) {
    seqs.assign(static_cast<std::size_t>(req.batch), llm::SequenceWork::decode(req.context));
  } else {
    seqs.push_back(llm::SequenceWork::prefill_chunk(req.chunk, 0, true));
  }
  const llm::StepBatch batch = llm::StepBatch::same_on_every_replica(req.plan.attention_dp, seqs);
  Rng rng(req.seed, stream_id("moesim.explain.routing"));
  llm::StepPlan plan;
  double imbalance = 1.0;
  if (model.moe) {
    const std::int64_t moe_layers = model.num_moe_layers();
    const llm::ExpertPopularity popularity =
        llm::parse_popularity(config::ConfigNode::parse(req.popularity_yaml, "--popularity"),
                              model.moe->num_experts, moe_layers);
    llm::SampledLoads loads(model, popularity, req.plan.ep, req.plan.redundant_experts,
                            req.eplb && req.plan.redundant_experts > 0
                                ? llm::PlacementKind::kEplb
                                : llm::PlacementKind::kContiguous,
                            rng);
    plan = lowering.lower(batch, loads);
    imbalance = loads.last_imbalance();
  } else {
    plan = lowering.lower(batch);
  }

  const step::StepTimeline timeline =
      step::time_step(plan, *deployment->compute, *deployment->network);

  Explanation out;
  out.notes = lowering.notes();
  const llm::RankPlan& ops = plan.plan_of(timeline.slowest_rank);
  Flops total_flops{0.0};
  Bytes total_bytes{0};
  Duration by_bound[4] = {};
  int extrapolated = 0;
  for (std::size_t i = 0; i < ops.ops.size(); ++i) {
    const llm::Op& op = ops.ops[i];
    const step::OpTiming& t = timeline.of(timeline.slowest_rank)[i];
    total_flops += op.flops();
    total_bytes += op.min_bytes();
    by_bound[static_cast<std::size_t>(t.cost.bound)] += t.cost.time;
    out.ops.add_row({op.layer < 0 ? "-" : std::to_string(op.layer), std::string(op.name),
                     stream_name(op.stream), num(op.flops().base() / scale::kGiga),
                     num(in_bytes(op.min_bytes()) / scale::kMega), num(to_microseconds(t.start)),
                     num(to_microseconds(t.cost.time)), std::string(cost::to_string(t.cost.bound)),
                     t.cost.extrapolated ? "yes" : ""});
    if (t.cost.extrapolated) ++extrapolated;
  }
  const double step_ms = to_milliseconds(timeline.step);
  std::int64_t tokens_per_gpu = 0;
  for (const auto& s : seqs) tokens_per_gpu += s.q_len;
  auto& sum = out.summary;
  sum.add_row({"model", model.name});
  sum.add_row(
      {"system", system.name + (req.domains > 1 ? " x" + std::to_string(req.domains) : "")});
  sum.add_row({"stack", stack.name + (stack.description.empty() ? "" : ": " + stack.description)});
  sum.add_row({"plan", llm::describe(req.plan)});
  sum.add_row({"phase", req.decode ? "decode" : "prefill"});
  sum.add_row({"tokens per attention-DP replica", std::to_string(tokens_per_gpu)});
  sum.add_row({"ranks (GPUs)", std::to_string(plan.ranks())});
  sum.add_row({"distinct op lists", std::to_string(plan.plans.size())});
  sum.add_row({"step time (ms)", num(step_ms)});
  sum.add_row({"slowest rank", std::to_string(timeline.slowest_rank)});
  sum.add_row({"slowest rank: GFLOP", num(total_flops.base() / scale::kGiga)});
  sum.add_row({"slowest rank: GB moved", num(in_gigabytes(total_bytes))});
  sum.add_row({"slowest rank: compute-bound op time (ms)",
               num(to_milliseconds(by_bound[static_cast<int>(cost::Bound::kCompute)]))});
  sum.add_row({"slowest rank: memory-bound op time (ms)",
               num(to_milliseconds(by_bound[static_cast<int>(cost::Bound::kMemory)]))});
  sum.add_row({"slowest rank: overhead-bound op time (ms)",
               num(to_milliseconds(by_bound[static_cast<int>(cost::Bound::kOverhead)]))});
  sum.add_row({"slowest rank: network time (ms)",
               num(to_milliseconds(by_bound[static_cast<int>(cost::Bound::kNetwork)]))});
  sum.add_row({"MoE load imbalance, last layer (max/mean)", num(imbalance)});
  sum.add_row({"slowest rank: ops priced by extrapolation", std::to_string(extrapolated)});
  if (extrapolated > 0) {
    out.notes.push_back(std::to_string(extrapolated) + " ops priced outside the shapes stack " +
                        stack.name + " was measured at (column extrapolated)");
  }
  if (timeline.step > Duration::zero()) {
    const double step_s = to_seconds(timeline.step);
    const double step_tokens = static_cast<double>(tokens_per_gpu) * req.plan.attention_dp;
    sum.add_row({"tokens/s per GPU (this step)", num(step_tokens / plan.ranks() / step_s)});
    if (req.decode) sum.add_row({"tokens/s per user (this step)", num(1.0 / step_s)});
  }
  // Per-rank expert work of the first MoE layer.
  for (std::int32_t r = 0; r < plan.ranks(); ++r) {
    for (const llm::Op& op : plan.plan_of(r).ops) {
      const auto* g = std::get_if<llm::GroupedGemmOp>(&op.body);
      if (g == nullptr) continue;
      const std::int32_t max_tokens =
          g->tokens_per_expert.empty()
              ? 0
              : *std::max_element(g->tokens_per_expert.begin(), g->tokens_per_expert.end());
      out.loads.add_row({std::to_string(r), std::to_string(g->total_tokens()),
                         std::to_string(g->active_experts()), std::to_string(max_tokens)});
      break;
    }
  }
  return out;
}

}  // namespace moesim::study
