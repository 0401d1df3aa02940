#include "sim/llm/memory_footprint.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/param_count.hpp"

namespace moesim::llm {

namespace {

constexpr auto kBitsPerByte = static_cast<std::int64_t>(scale::kBitsPerByte);

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

/// How one tensor group is split on a GPU: its per-GPU rows, cols and copies.
struct Shape {
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t copies = 0;
};

/// Splits a gated-FFN tensor (gate/up rows, down cols, biases along the intermediate) over
/// `shards`.
Shape split_ffn(std::string_view leaf, const TensorGroup& g, std::int64_t shards,
                std::int64_t copies) {
  Shape s{g.rows, g.cols, copies};
  if (leaf == "gate_proj" || leaf == "up_proj") s.rows = ceil_div(g.rows, shards);
  if (leaf == "down_proj" || leaf == "gate_bias" || leaf == "up_bias") {
    s.cols = ceil_div(g.cols, shards);
  }
  return s;
}

Shape per_gpu(const TensorGroup& g, const ModelSpec& m, const ParallelPlan& plan) {
  std::string_view name = g.name;
  if (starts_with(name, "mtp.")) name.remove_prefix(4);
  const std::int64_t tp = plan.tp;
  const std::int64_t kv_width = kv_heads_per_rank(m, plan) * m.attention.head_dim;
  Shape s{g.rows, g.cols, g.instances};
  if (name == "embed_tokens" || name == "lm_head" || name == "attn.q_b_proj" ||
      name == "attn.kv_b_proj" || name == "attn.q_proj") {
    s.rows = ceil_div(g.rows, tp);
  } else if (name == "attn.o_proj" || name == "attn.q_bias" || name == "attn.sinks") {
    s.cols = ceil_div(g.cols, tp);
  } else if (name == "attn.k_proj" || name == "attn.v_proj") {
    s.rows = kv_width;
  } else if (name == "attn.k_bias" || name == "attn.v_bias") {
    s.cols = kv_width;
  } else if (starts_with(name, "ffn.")) {
    const std::int64_t shards = plan.dense_ffn == FfnLayout::kSharded ? plan.stage_size() : 1;
    s = split_ffn(name.substr(4), g, shards, g.instances);
  } else if (starts_with(name, "shared_experts.")) {
    const std::int64_t shards = plan.shared_expert == FfnLayout::kSharded ? plan.stage_size() : 1;
    s = split_ffn(name.substr(15), g, shards, g.instances);
  } else if (starts_with(name, "experts.")) {
    const MoeSpec& moe = *m.moe;
    const std::int64_t layers = g.instances / moe.num_experts;
    s = split_ffn(name.substr(8), g, plan.moe_tp(), layers * plan.slots_per_rank(moe));
  }
  // Everything else (MLA latent projections, norms, q/k norms, o bias, router, eh_proj) is
  // replicated.
  return s;
}

/// KV values one token adds in `layers` layers on one GPU.
std::int64_t kv_values(const ModelSpec& m, const ParallelPlan& plan, std::int64_t layers) {
  const AttentionSpec& a = m.attention;
  const std::int64_t per_layer = a.kind == AttentionKind::kMla
                                     ? a.kv_lora_rank + a.qk_rope_head_dim
                                     : 2 * kv_heads_per_rank(m, plan) * a.head_dim;
  return per_layer * layers;
}

Bytes activation_estimate(const ModelSpec& m, const ParallelPlan& plan, const Precision& p,
                          std::int64_t tokens) {
  const AttentionSpec& a = m.attention;
  const std::int64_t heads = heads_per_rank(m, plan);
  std::int64_t attn = 0;
  if (a.kind == AttentionKind::kMla) {
    attn = a.q_lora_rank + a.kv_lora_rank + a.qk_rope_head_dim +
           heads * (a.qk_nope_head_dim + a.qk_rope_head_dim) + heads * a.v_head_dim;
  } else {
    attn = (2 * heads + 2 * kv_heads_per_rank(m, plan)) * a.head_dim;
  }
  const std::int64_t stage = plan.stage_size();
  const std::int64_t gathered = tokens * (plan.token_shares() ? plan.attention_dp : 1);
  std::int64_t ffn = 0;
  if (m.dense_ffn && m.num_dense_layers() > 0) {
    const bool sharded = plan.dense_ffn == FfnLayout::kSharded;
    ffn = std::max(ffn, (sharded ? gathered : tokens) * 3 *
                            (m.dense_ffn->intermediate_size / (sharded ? stage : 1)));
  }
  std::int64_t a2a = 0;
  if (m.is_moe()) {
    const MoeSpec& moe = *m.moe;
    const std::int64_t shared = moe.shared_intermediate_size * moe.num_shared_experts;
    if (shared > 0) {
      const bool sharded = plan.shared_expert == FfnLayout::kSharded;
      ffn = std::max(ffn, (sharded ? gathered : tokens) * 3 * (shared / (sharded ? stage : 1)));
    }
    const std::int64_t routed_rows = (plan.ep == 1 ? gathered : tokens) * moe.experts_per_token;
    ffn = std::max(ffn, routed_rows * 3 * (moe.expert.intermediate_size / plan.moe_tp()));
    if (plan.ep > 1) {
      a2a = tokens * std::min<std::int64_t>(moe.experts_per_token, plan.ep) *
            (payload_bytes_per_token(m.hidden_size, p.dispatch) +
             payload_bytes_per_token(m.hidden_size, p.combine))
                .base();
    }
  }
  constexpr std::int64_t kHalf = 2;
  constexpr std::int64_t kFloat = 4;
  const std::int64_t logits = kFloat * tokens * ceil_div(m.vocab_size, plan.tp);
  return Bytes{kHalf * (tokens * (4 * m.hidden_size + attn) + ffn) + logits + a2a};
}

std::string gib(Bytes b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", in_gibibytes(b));
  return buf;
}

}  // namespace

std::vector<MemoryFootprint> memory_footprints(const ModelSpec& model, const ParallelPlan& plan,
                                               const Precision& precision, const TargetGpu& gpu,
                                               const MemoryOptions& options) {
  MOESIM_ASSERT(options.memory_fraction > 0.0 && options.memory_fraction <= 1.0,
                "the memory fraction is in (0, 1]");
  MOESIM_ASSERT(options.max_tokens_per_step >= 0, "a token budget is not negative");
  const auto ranges = stage_layers(model, plan);
  const Bytes activations =
      activation_estimate(model, plan, precision, options.max_tokens_per_step);
  std::vector<MemoryFootprint> out;
  for (std::int32_t s = 0; s < plan.pp; ++s) {
    const bool first = s == 0;
    const bool last = s + 1 == plan.pp;
    const auto [begin, end] = ranges[static_cast<std::size_t>(s)];
    ModelSpec sub = model;
    sub.layers.assign(model.layers.begin() + begin, model.layers.begin() + end);
    sub.mtp_layers = last && options.include_mtp ? model.mtp_layers : 0;

    MemoryFootprint f;
    f.stage = s;
    for (const TensorGroup& g : weight_tensors(sub)) {
      if (g.name == "embed_tokens" && !first && !(last && model.tie_word_embeddings)) continue;
      if ((g.name == "lm_head" || g.name == "final_norm") && !last) continue;
      const Shape shape = per_gpu(g, sub, plan);
      const Bytes bytes =
          tensor_bytes(shape.rows, shape.cols, precision.weights.of(g.tensor_class)).total() *
          shape.copies;
      if (g.mtp) {
        f.mtp_weights += bytes;
      } else {
        f.weights_by_class[static_cast<std::size_t>(g.tensor_class)] += bytes;
      }
    }
    f.weights = f.mtp_weights;
    for (const Bytes b : f.weights_by_class) f.weights += b;

    std::int64_t full_layers = 0;
    for (const LayerSpec& l : sub.layers) full_layers += l.span == AttentionSpan::kFull ? 1 : 0;
    const std::int64_t extra = sub.mtp_layers;  // MTP layers keep a full KV cache too
    const int bits = bits_of(precision.kv_cache);
    f.kv_bytes_per_token =
        Bytes{ceil_div(kv_values(model, plan, sub.num_layers() + extra) * bits, kBitsPerByte)};
    f.kv_bytes_per_token_full_span =
        Bytes{ceil_div(kv_values(model, plan, full_layers + extra) * bits, kBitsPerByte)};

    f.activations = activations;
    f.hbm = gpu.hbm_capacity;
    f.usable = Bytes{static_cast<std::int64_t>(
        std::floor(static_cast<double>(gpu.hbm_capacity.base()) * options.memory_fraction))};
    f.kv_budget = f.usable - f.weights - f.activations;
    f.kv_tokens = f.kv_budget.base() > 0 && f.kv_bytes_per_token.base() > 0
                      ? f.kv_budget.base() / f.kv_bytes_per_token.base()
                      : 0;
    out.push_back(f);
  }
  return out;
}

MemoryFootprint binding_footprint(const ModelSpec& model, const ParallelPlan& plan,
                                  const Precision& precision, const TargetGpu& gpu,
                                  const MemoryOptions& options) {
  const std::vector<MemoryFootprint> all = memory_footprints(model, plan, precision, gpu, options);
  return *std::min_element(
      all.begin(), all.end(),
      [](const MemoryFootprint& a, const MemoryFootprint& b) { return a.kv_tokens < b.kv_tokens; });
}

void check_memory_fit(const ModelSpec& model, const ParallelPlan& plan, const Precision& precision,
                      const TargetGpu& gpu, const MemoryOptions& options) {
  const MemoryFootprint f = binding_footprint(model, plan, precision, gpu, options);
  if (f.kv_tokens >= options.min_kv_tokens && f.kv_budget.base() > 0) return;
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, "%.2f", options.memory_fraction);
  throw ConfigError(
      plan.location, plan.key_path,
      "weights + activations + KV cache for " + std::to_string(options.min_kv_tokens) +
          " tokens within " + fraction + " x " + gib(f.hbm) + " = " + gib(f.usable) + " per GPU",
      model.name + " under " + describe(plan) + " on " + gpu.name + ": stage " +
          std::to_string(f.stage) + " holds " + gib(f.weights) + " of weights + " +
          gib(f.activations) + " of activations, leaving room for " + std::to_string(f.kv_tokens) +
          " tokens of KV cache (" + std::to_string(f.kv_bytes_per_token.base()) + " B per token)");
}

}  // namespace moesim::llm
