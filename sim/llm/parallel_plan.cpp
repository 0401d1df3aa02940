#include "sim/llm/parallel_plan.hpp"

#include <algorithm>
#include <string>

#include "sim/core/assert.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::llm {

namespace {

using config::ConfigNode;

constexpr std::int64_t kScaleBlock = 128;  // fp8_block128: 128 x 128 weight scale blocks

std::string num(std::int64_t v) { return std::to_string(v); }

[[noreturn]] void reject(const ParallelPlan& plan, std::string_view key, std::string expected,
                         std::string found) {
  std::string path = plan.key_path;
  if (!key.empty()) path += (path.empty() ? "" : ".") + std::string(key);
  throw ConfigError(plan.location, std::move(path), std::move(expected), std::move(found));
}

std::int32_t read_count(const ConfigNode& node, std::string_view key, std::int32_t fallback,
                        std::int32_t min) {
  const auto v = node.get(key);
  if (!v) return fallback;
  const std::int64_t x = v->as_int();
  if (x < min || x > (std::int64_t{1} << 20)) {
    v->fail("an integer >= " + num(min) + " (and at most 1048576)");
  }
  return static_cast<std::int32_t>(x);
}

FfnLayout read_layout(const ConfigNode& v) {
  return v.as_choice({"replicated", "sharded"}) == "replicated" ? FfnLayout::kReplicated
                                                                : FfnLayout::kSharded;
}

/// Checks that `shards` splits an FFN of `intermediate` evenly, and into whole scale blocks
/// when the weights are fp8_block128.
void check_ffn_split(const ParallelPlan& plan, std::string_view key, std::string_view what,
                     std::int64_t intermediate, std::int64_t shards, WeightFormat format) {
  if (shards <= 1) return;
  if (intermediate % shards != 0) {
    reject(plan, key,
           std::string(what) + " intermediate size " + num(intermediate) + " divisible by its " +
               num(shards) + " shards",
           num(intermediate) + " / " + num(shards) + " is not whole");
  }
  const std::int64_t shard = intermediate / shards;
  if (format == WeightFormat::kFP8Block128 && shard % kScaleBlock != 0) {
    reject(plan, key,
           std::string(what) + " shards of whole 128-wide fp8_block128 scale blocks (use ep, or " +
               "fewer shards)",
           num(intermediate) + " / " + num(shards) + " = " + num(shard) + " columns per shard");
  }
}

}  // namespace

std::string_view to_string(FfnLayout v) {
  return v == FfnLayout::kReplicated ? "replicated" : "sharded";
}

ParallelPlan ParallelPlan::tensor_parallel(std::int32_t n) {
  ParallelPlan p;
  p.tp = n;
  return p;
}

ParallelPlan ParallelPlan::attention_dp_ep(std::int32_t n, std::int32_t micro_batches) {
  ParallelPlan p;
  p.attention_dp = n;
  p.ep = n;
  p.dense_ffn = FfnLayout::kReplicated;
  p.shared_expert = FfnLayout::kReplicated;
  p.micro_batches = micro_batches;
  return p;
}

RankCoord ParallelPlan::coord(std::int32_t rank) const {
  MOESIM_ASSERT(rank >= 0 && rank < world_size(), "rank within the plan");
  RankCoord c;
  c.stage = rank / stage_size();
  c.index = rank % stage_size();
  c.dp = c.index / tp;
  c.tp = c.index % tp;
  return c;
}

std::string describe(const ParallelPlan& plan) {
  std::string s;
  if (plan.tp > 1 || plan.attention_dp == 1) s = "TP" + num(plan.tp);
  if (plan.attention_dp > 1) s += (s.empty() ? "ADP" : "xADP") + num(plan.attention_dp);
  if (plan.ep > 1) {
    s += "+EP" + num(plan.ep);
    if (plan.redundant_experts > 0) s += "(+" + num(plan.redundant_experts) + " redundant)";
  }
  if (plan.pp > 1) s += "xPP" + num(plan.pp);
  if (plan.micro_batches > 1) s += "+TBO";
  return s;
}

ParallelPlan parse_parallel_plan(const ConfigNode& node) {
  node.check_keys({"tp", "attention_dp", "ep", "pp", "redundant_experts", "dense_ffn",
                   "shared_expert", "micro_batches"});
  ParallelPlan p;
  p.location = node.location();
  p.key_path = node.key_path();
  p.tp = read_count(node, "tp", 1, 1);
  p.attention_dp = read_count(node, "attention_dp", 1, 1);
  p.ep = read_count(node, "ep", 1, 1);
  p.pp = read_count(node, "pp", 1, 1);
  p.redundant_experts = read_count(node, "redundant_experts", 0, 0);
  p.micro_batches = read_count(node, "micro_batches", 1, 1);
  const FfnLayout fallback = p.attention_dp > 1 ? FfnLayout::kReplicated : FfnLayout::kSharded;
  p.dense_ffn = node.has("dense_ffn") ? read_layout(node.at("dense_ffn")) : fallback;
  p.shared_expert = node.has("shared_expert") ? read_layout(node.at("shared_expert")) : fallback;
  return p;
}

void validate_plan(const ModelSpec& model, const ParallelPlan& plan, const Precision& precision,
                   std::int32_t available_gpus) {
  if (plan.tp < 1 || plan.attention_dp < 1 || plan.ep < 1 || plan.pp < 1 ||
      plan.redundant_experts < 0) {
    reject(plan, "tp", "positive tp, attention_dp, ep, pp and redundant_experts >= 0",
           describe(plan));
  }
  const std::int64_t world = plan.world_size();
  if (world > available_gpus) {
    reject(plan, "", "a plan within the system's " + num(available_gpus) + " GPUs",
           describe(plan) + " = pp " + num(plan.pp) + " x tp " + num(plan.tp) + " x attention_dp " +
               num(plan.attention_dp) + " = " + num(world) + " GPUs");
  }
  if (plan.micro_batches != 1 && plan.micro_batches != 2) {
    reject(plan, "micro_batches", "1 or 2 micro-batches", num(plan.micro_batches));
  }
  if (plan.pp > model.num_layers()) {
    reject(plan, "pp", "at most one stage per layer (" + num(model.num_layers()) + " layers)",
           "pp: " + num(plan.pp));
  }

  const AttentionSpec& a = model.attention;
  if (a.num_heads % plan.tp != 0) {
    reject(plan, "tp", "tp dividing " + model.name + "'s " + num(a.num_heads) + " attention heads",
           "tp: " + num(plan.tp));
  }
  if (a.kind != AttentionKind::kMla && a.num_kv_heads % plan.tp != 0 &&
      plan.tp % a.num_kv_heads != 0) {
    reject(
        plan, "tp",
        "tp dividing, or a multiple of, " + model.name + "'s " + num(a.num_kv_heads) + " KV heads",
        "tp: " + num(plan.tp));
  }

  const std::int64_t stage = plan.stage_size();
  if (plan.ep != 1 && plan.ep != stage) {
    reject(plan, "ep",
           "ep 1 (experts tensor-sharded over the stage) or tp x attention_dp = " + num(stage) +
               " (whole experts per GPU)",
           "ep: " + num(plan.ep));
  }
  if (!model.is_moe()) {
    if (plan.ep > 1 || plan.redundant_experts > 0) {
      reject(plan, "ep", "ep 1 and no redundant experts for the dense model " + model.name,
             "ep: " + num(plan.ep) + ", redundant_experts: " + num(plan.redundant_experts));
    }
  } else {
    const MoeSpec& moe = *model.moe;
    if (plan.redundant_experts > 0 && plan.ep == 1) {
      reject(plan, "redundant_experts", "redundant experts only with ep > 1",
             "redundant_experts: " + num(plan.redundant_experts) + " with ep 1");
    }
    const std::int64_t slots = moe.num_experts + plan.redundant_experts;
    if (slots % plan.ep != 0) {
      reject(plan, "ep",
             "ep dividing the " + num(moe.num_experts) + " experts + " +
                 num(plan.redundant_experts) + " redundant slots = " + num(slots),
             "ep: " + num(plan.ep));
    }
    if (plan.redundant_experts > moe.num_experts * (plan.ep - 1)) {
      reject(plan, "redundant_experts",
             "at most experts x (ep - 1) redundant slots (one replica per other rank)",
             "redundant_experts: " + num(plan.redundant_experts));
    }
    check_ffn_split(plan, "ep", "routed expert", moe.expert.intermediate_size, plan.moe_tp(),
                    precision.weights.of(TensorClass::kRoutedExperts));
    if (moe.num_shared_experts > 0 && plan.shared_expert == FfnLayout::kSharded) {
      check_ffn_split(plan, "shared_expert", "shared expert",
                      moe.shared_intermediate_size * moe.num_shared_experts, stage,
                      precision.weights.of(TensorClass::kSharedExperts));
    }
  }
  if (model.dense_ffn && model.num_dense_layers() > 0 && plan.dense_ffn == FfnLayout::kSharded) {
    check_ffn_split(plan, "dense_ffn", "dense FFN", model.dense_ffn->intermediate_size, stage,
                    precision.weights.of(TensorClass::kDenseFfn));
  }
}

std::vector<std::pair<std::int32_t, std::int32_t>> stage_layers(const ModelSpec& model,
                                                                const ParallelPlan& plan) {
  const auto layers = static_cast<std::int32_t>(model.num_layers());
  MOESIM_ASSERT(plan.pp >= 1 && plan.pp <= layers, "1 <= pp <= layers");
  std::vector<std::pair<std::int32_t, std::int32_t>> out;
  std::int32_t first = 0;
  for (std::int32_t s = 0; s < plan.pp; ++s) {
    const std::int32_t n = layers / plan.pp + (s < layers % plan.pp ? 1 : 0);
    out.emplace_back(first, first + n);
    first += n;
  }
  return out;
}

std::int64_t heads_per_rank(const ModelSpec& model, const ParallelPlan& plan) {
  return model.attention.num_heads / plan.tp;
}

std::int64_t kv_heads_per_rank(const ModelSpec& model, const ParallelPlan& plan) {
  if (model.attention.kind == AttentionKind::kMla) return 1;
  return std::max<std::int64_t>(1, model.attention.num_kv_heads / plan.tp);
}

}  // namespace moesim::llm
