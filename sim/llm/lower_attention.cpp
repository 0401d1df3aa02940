#include <cstdint>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/llm/lower_detail.hpp"

namespace moesim::llm::detail {

namespace {

constexpr std::int64_t kBitsPerByte = 8;

Bytes cache_bytes(std::int64_t values, DType kv) {
  return Bytes{(values * bits_of(kv) + kBitsPerByte - 1) / kBitsPerByte};
}

/// The sequences of one kind (decode or prefill) that have new tokens.
struct SequenceSet {
  std::vector<std::int32_t> q_lens;
  std::vector<std::int32_t> kv_lens;
  std::int64_t tokens = 0;
  bool empty() const { return q_lens.empty(); }
};

SequenceSet select(const MicroBatchWork& w, bool prefill) {
  SequenceSet s;
  for (const SequenceWork& q : w.seqs) {
    if (q.prefill != prefill || q.q_len == 0) continue;
    s.q_lens.push_back(q.q_len);
    s.kv_lens.push_back(q.kv_len);
    s.tokens += q.q_len;
  }
  return s;
}

AttentionOp attention(AttentionKernel kernel, const SequenceSet& s, std::int64_t heads,
                      std::int64_t kv_heads, std::int64_t qk_dim, std::int64_t v_dim,
                      const LayerSpec& layer, DType compute, DType kv_type) {
  AttentionOp a;
  a.kernel = kernel;
  a.q_lens = s.q_lens;
  a.kv_lens = s.kv_lens;
  a.heads = static_cast<std::int32_t>(heads);
  a.kv_heads = static_cast<std::int32_t>(kv_heads);
  a.qk_dim = static_cast<std::int32_t>(qk_dim);
  a.v_dim = static_cast<std::int32_t>(v_dim);
  a.window = layer.span == AttentionSpan::kFull ? 0 : static_cast<std::int32_t>(layer.window);
  a.chunked = layer.span == AttentionSpan::kChunked;
  a.compute = compute;
  a.kv_type = kv_type;
  return a;
}

/// MLA projections and core (DeepSeek-V2/V3 inference/model.py class MLA; absorbed decode as
/// in SGLang's deepseek_v2.py forward_absorb, expanded prefill as forward_normal).
void lower_mla(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer) {
  const ModelSpec& m = env.model;
  const AttentionSpec& a = m.attention;
  const ResolvedPrecision& p = env.precision;
  const TensorClass kAttn = TensorClass::kAttention;
  const std::int64_t t = step.work->tokens;
  const std::int64_t heads = heads_per_rank(m, env.plan);
  const std::int64_t latent = a.kv_lora_rank + a.qk_rope_head_dim;
  const std::int64_t qk_head = a.qk_nope_head_dim + a.qk_rope_head_dim;
  const LayerSpec& spec = m.layers[static_cast<std::size_t>(layer)];

  if (a.q_lora_rank > 0) {
    ops.add("attn.qkv_a_proj", layer, StreamKind::kCompute,
            weight_gemm(p, kAttn, t, a.q_lora_rank + latent, m.hidden_size));
    ops.add("attn.qkv_a_norm", layer, StreamKind::kCompute,
            rms_norm(t, a.q_lora_rank + a.kv_lora_rank, false));
    ops.add("attn.q_b_proj", layer, StreamKind::kCompute,
            weight_gemm(p, kAttn, t, heads * qk_head, a.q_lora_rank));
  } else {
    ops.add("attn.q_proj", layer, StreamKind::kCompute,
            weight_gemm(p, kAttn, t, heads * qk_head, m.hidden_size));
    ops.add("attn.kv_a_proj", layer, StreamKind::kCompute,
            weight_gemm(p, kAttn, t, latent, m.hidden_size));
    ops.add("attn.qkv_a_norm", layer, StreamKind::kCompute, rms_norm(t, a.kv_lora_rank, false));
  }
  ops.add("attn.kv_write", layer, StreamKind::kCompute,
          MemoryOp{bf16_bytes(t * latent), cache_bytes(t * latent, p.kv_cache), Flops{0.0}});

  const SequenceSet decode = select(*step.work, false);
  if (!decode.empty()) {
    ops.add("attn.q_absorb", layer, StreamKind::kCompute,
            weight_gemm(p, kAttn, decode.tokens, a.kv_lora_rank, a.qk_nope_head_dim, heads));
    ops.add("attn.decode", layer, StreamKind::kCompute,
            attention(AttentionKernel::kMlaAbsorbed, decode, heads, 1, latent, a.kv_lora_rank, spec,
                      p.attention, p.kv_cache));
    ops.add("attn.v_absorb", layer, StreamKind::kCompute,
            weight_gemm(p, kAttn, decode.tokens, a.v_head_dim, a.kv_lora_rank, heads));
  }
  const SequenceSet prefill = select(*step.work, true);
  if (!prefill.empty()) {
    const std::int64_t window = spec.span == AttentionSpan::kFull ? 0 : spec.window;
    std::int64_t keys = 0;
    for (std::size_t s = 0; s < prefill.q_lens.size(); ++s) {
      keys += visible_keys(prefill.q_lens[s], prefill.kv_lens[s], window,
                           spec.span == AttentionSpan::kChunked);
    }
    ops.add(
        "attn.kv_b_proj", layer, StreamKind::kCompute,
        weight_gemm(p, kAttn, keys, heads * (a.qk_nope_head_dim + a.v_head_dim), a.kv_lora_rank));
    // Expanded K/V are BF16 activations written by kv_b_proj, not the cache type.
    ops.add("attn.prefill", layer, StreamKind::kCompute,
            attention(AttentionKernel::kMlaExpanded, prefill, heads, heads, qk_head, a.v_head_dim,
                      spec, p.attention, DType::kBF16));
  }
  ops.add("attn.o_proj", layer, StreamKind::kCompute,
          weight_gemm(p, kAttn, t, m.hidden_size, heads * a.v_head_dim));
}

/// MHA/GQA projections and core (fused qkv projection, as vLLM's QKVParallelLinear).
void lower_gqa(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer) {
  const ModelSpec& m = env.model;
  const AttentionSpec& a = m.attention;
  const ResolvedPrecision& p = env.precision;
  const TensorClass kAttn = TensorClass::kAttention;
  const std::int64_t t = step.work->tokens;
  const std::int64_t heads = heads_per_rank(m, env.plan);
  const std::int64_t kv_heads = kv_heads_per_rank(m, env.plan);
  const std::int64_t hd = a.head_dim;
  const LayerSpec& spec = m.layers[static_cast<std::size_t>(layer)];

  ops.add("attn.qkv_proj", layer, StreamKind::kCompute,
          weight_gemm(p, kAttn, t, (heads + 2 * kv_heads) * hd, m.hidden_size));
  if (a.qk_norm != QkNorm::kNone) {
    const std::int64_t values = t * (heads + kv_heads) * hd;
    const std::int64_t weights = a.qk_norm == QkNorm::kRms ? 2 * hd : 0;
    ops.add("attn.qk_norm", layer, StreamKind::kCompute,
            MemoryOp{bf16_bytes(values + weights), bf16_bytes(values),
                     Flops{4.0 * static_cast<double>(values)}});
  }
  const std::int64_t kv_values = t * 2 * kv_heads * hd;
  ops.add("attn.kv_write", layer, StreamKind::kCompute,
          MemoryOp{bf16_bytes(kv_values), cache_bytes(kv_values, p.kv_cache), Flops{0.0}});
  const SequenceSet decode = select(*step.work, false);
  if (!decode.empty()) {
    ops.add("attn.decode", layer, StreamKind::kCompute,
            attention(AttentionKernel::kMha, decode, heads, kv_heads, hd, hd, spec, p.attention,
                      p.kv_cache));
  }
  const SequenceSet prefill = select(*step.work, true);
  if (!prefill.empty()) {
    ops.add("attn.prefill", layer, StreamKind::kCompute,
            attention(AttentionKernel::kMha, prefill, heads, kv_heads, hd, hd, spec, p.attention,
                      p.kv_cache));
  }
  ops.add("attn.o_proj", layer, StreamKind::kCompute,
          weight_gemm(p, kAttn, t, m.hidden_size, heads * hd));
}

}  // namespace

void lower_attention(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer) {
  MOESIM_ASSERT(step.work != nullptr, "a rank step has its micro-batch");
  const std::int64_t t = step.work->tokens;
  const std::int64_t h = env.model.hidden_size;
  ops.add("attn.input_norm", layer, StreamKind::kCompute, rms_norm(t, h, true));
  if (env.model.attention.kind == AttentionKind::kMla) {
    lower_mla(ops, env, step, layer);
  } else {
    lower_gqa(ops, env, step, layer);
  }
  if (env.plan.tp > 1) {
    if (env.plan.token_shares()) {
      ops.add("attn.reduce_scatter", layer, StreamKind::kComm,
              collective(CollectiveKind::kReduceScatter, step.groups.tp, bf16_bytes(t * h)));
    } else {
      ops.add("attn.all_reduce", layer, StreamKind::kComm,
              collective(CollectiveKind::kAllReduce, step.groups.tp, bf16_bytes(t * h)));
    }
  }
}

}  // namespace moesim::llm::detail
