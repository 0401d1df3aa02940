#include "sim/llm/param_count.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/assert.hpp"

namespace moesim::llm {

namespace {

constexpr std::int64_t kFp8BlockEdge = 128;   // fp8_block128: 128 x 128 blocks
constexpr std::int64_t kNvfp4BlockSize = 16;  // nvfp4: one E4M3 scale per 16 elements
constexpr std::int64_t kMxfp4BlockSize = 32;  // mxfp4: one E8M0 scale per 32 elements
constexpr std::int64_t kFp32Bytes = 4;
constexpr std::int64_t kBf16Bytes = 2;
constexpr auto kBitsPerByte = static_cast<std::int64_t>(scale::kBitsPerByte);

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

std::size_t index(TensorClass c) { return static_cast<std::size_t>(c); }

/// Appends groups to a list, with the instance counts of one section of the model.
class GroupList {
 public:
  GroupList(std::vector<TensorGroup>& out, bool mtp) : out_(out), mtp_(mtp) {}

  void matrix(std::string name, TensorClass c, std::int64_t rows, std::int64_t cols,
              std::int64_t instances, std::int64_t active) {
    if (instances == 0) return;
    out_.push_back(TensorGroup{prefix() + std::move(name), c, rows, cols, instances, active, mtp_});
  }
  void vector(std::string name, TensorClass c, std::int64_t length, std::int64_t instances,
              std::int64_t active) {
    matrix(std::move(name), c, 1, length, instances, active);
  }

 private:
  std::string prefix() const { return mtp_ ? "mtp." : ""; }
  std::vector<TensorGroup>& out_;
  bool mtp_;
};

/// Attention tensors of `n` layers (every copy is active).
void add_attention(GroupList& g, const ModelSpec& m, std::int64_t n) {
  const AttentionSpec& a = m.attention;
  const std::int64_t h = m.hidden_size;
  const auto kAttn = TensorClass::kAttention;
  if (a.kind == AttentionKind::kMla) {
    if (a.q_lora_rank > 0) {
      g.matrix("attn.q_a_proj", kAttn, a.q_lora_rank, h, n, n);
      g.vector("attn.q_a_norm", kAttn, a.q_lora_rank, n, n);
      g.matrix("attn.q_b_proj", kAttn, a.q_width(), a.q_lora_rank, n, n);
    } else {
      g.matrix("attn.q_proj", kAttn, a.q_width(), h, n, n);
    }
    g.matrix("attn.kv_a_proj", kAttn, a.kv_lora_rank + a.qk_rope_head_dim, h, n, n);
    g.vector("attn.kv_a_norm", kAttn, a.kv_lora_rank, n, n);
    g.matrix("attn.kv_b_proj", kAttn, a.num_heads * (a.qk_nope_head_dim + a.v_head_dim),
             a.kv_lora_rank, n, n);
    g.matrix("attn.o_proj", kAttn, h, a.v_width(), n, n);
    return;
  }
  const std::int64_t kv_width = a.num_kv_heads * a.head_dim;
  g.matrix("attn.q_proj", kAttn, a.q_width(), h, n, n);
  g.matrix("attn.k_proj", kAttn, kv_width, h, n, n);
  g.matrix("attn.v_proj", kAttn, kv_width, h, n, n);
  g.matrix("attn.o_proj", kAttn, h, a.v_width(), n, n);
  if (a.bias != AttentionBias::kNone) {
    g.vector("attn.q_bias", kAttn, a.q_width(), n, n);
    g.vector("attn.k_bias", kAttn, kv_width, n, n);
    g.vector("attn.v_bias", kAttn, kv_width, n, n);
  }
  if (a.bias == AttentionBias::kQkvo) g.vector("attn.o_bias", kAttn, h, n, n);
  if (a.qk_norm == QkNorm::kRms) {
    g.vector("attn.q_norm", kAttn, a.head_dim, n, n);
    g.vector("attn.k_norm", kAttn, a.head_dim, n, n);
  }
  if (a.sinks) g.vector("attn.sinks", kAttn, a.num_heads, n, n);
}

/// A gated FFN: gate and up (intermediate x hidden), down (hidden x intermediate), biases.
void add_ffn(GroupList& g, const std::string& prefix, TensorClass c, const FfnSpec& f,
             std::int64_t hidden, std::int64_t n, std::int64_t active) {
  g.matrix(prefix + ".gate_proj", c, f.intermediate_size, hidden, n, active);
  g.matrix(prefix + ".up_proj", c, f.intermediate_size, hidden, n, active);
  g.matrix(prefix + ".down_proj", c, hidden, f.intermediate_size, n, active);
  if (f.bias) {
    g.vector(prefix + ".gate_bias", c, f.intermediate_size, n, active);
    g.vector(prefix + ".up_bias", c, f.intermediate_size, n, active);
    g.vector(prefix + ".down_bias", c, hidden, n, active);
  }
}

/// The FFN part of `dense` dense layers and `sparse` MoE layers.
void add_ffns(GroupList& g, const ModelSpec& m, std::int64_t dense, std::int64_t sparse) {
  const std::int64_t h = m.hidden_size;
  if (dense > 0) add_ffn(g, "ffn", TensorClass::kDenseFfn, *m.dense_ffn, h, dense, dense);
  if (sparse == 0) return;
  const MoeSpec& e = *m.moe;
  const RouterSpec& r = e.router;
  g.matrix("router.weight", TensorClass::kRouter, e.num_experts, h, sparse, sparse);
  if (r.bias) g.vector("router.bias", TensorClass::kRouter, e.num_experts, sparse, sparse);
  if (r.correction_bias) {
    g.vector("router.correction_bias", TensorClass::kRouter, e.num_experts, sparse, sparse);
  }
  add_ffn(g, "experts", TensorClass::kRoutedExperts, e.expert, h, sparse * e.num_experts,
          sparse * e.experts_per_token);
  if (e.num_shared_experts > 0) {
    FfnSpec shared = e.expert;
    shared.intermediate_size = e.shared_intermediate_size;
    shared.bias = false;
    const std::int64_t copies = sparse * e.num_shared_experts;
    add_ffn(g, "shared_experts", TensorClass::kSharedExperts, shared, h, copies, copies);
  }
}

}  // namespace

std::vector<TensorGroup> weight_tensors(const ModelSpec& m) {
  std::vector<TensorGroup> out;
  const std::int64_t h = m.hidden_size;
  const std::int64_t layers = m.num_layers();

  GroupList main(out, false);
  // The input table is read by lookup (not active) unless it doubles as the output head.
  main.matrix("embed_tokens", TensorClass::kEmbedding, m.vocab_size, h, 1,
              m.tie_word_embeddings ? 1 : 0);
  add_attention(main, m, layers);
  main.vector("input_norm", TensorClass::kNorm, h, layers, layers);
  main.vector("post_attention_norm", TensorClass::kNorm, h, layers, layers);
  add_ffns(main, m, m.num_dense_layers(), m.num_moe_layers());
  main.vector("final_norm", TensorClass::kNorm, h, 1, 1);
  if (!m.tie_word_embeddings)
    main.matrix("lm_head", TensorClass::kOutputHead, m.vocab_size, h, 1, 1);

  if (m.mtp_layers > 0) {
    const std::int64_t n = m.mtp_layers;
    GroupList mtp(out, true);
    mtp.vector("enorm", TensorClass::kNorm, h, n, n);
    mtp.vector("hnorm", TensorClass::kNorm, h, n, n);
    mtp.matrix("eh_proj", TensorClass::kAttention, h, 2 * h, n, n);
    add_attention(mtp, m, n);
    mtp.vector("input_norm", TensorClass::kNorm, h, n, n);
    mtp.vector("post_attention_norm", TensorClass::kNorm, h, n, n);
    const bool last_is_moe = m.layers.back().moe;
    add_ffns(mtp, m, last_is_moe ? 0 : n, last_is_moe ? n : 0);
    mtp.vector("final_norm", TensorClass::kNorm, h, n, n);
  }
  return out;
}

ParamCounts count_parameters(const ModelSpec& m) {
  ParamCounts c;
  for (const TensorGroup& g : weight_tensors(m)) {
    const std::int64_t total = g.elements() * g.instances;
    const std::int64_t active = g.elements() * g.active_instances;
    if (g.mtp) {
      c.mtp_total += total;
      c.mtp_active += active;
      continue;
    }
    c.total += total;
    c.active += active;
    c.total_by_class[index(g.tensor_class)] += total;
    c.active_by_class[index(g.tensor_class)] += active;
    if (g.tensor_class == TensorClass::kEmbedding && !m.tie_word_embeddings) c.embedding += total;
  }
  c.active_with_embedding = c.active + c.embedding;
  return c;
}

TensorBytes tensor_bytes(std::int64_t rows, std::int64_t cols, WeightFormat f) {
  MOESIM_ASSERT(rows > 0 && cols > 0, "a tensor has a positive shape");
  const std::int64_t n = rows * cols;
  const bool vector = rows == 1;
  switch (f) {
    case WeightFormat::kBF16:
    case WeightFormat::kFP16: return {Bytes{kBf16Bytes * n}, Bytes{0}};
    case WeightFormat::kFP32: return {Bytes{kFp32Bytes * n}, Bytes{0}};
    default: break;
  }
  if (vector) return {Bytes{kBf16Bytes * n}, Bytes{0}};
  switch (f) {
    case WeightFormat::kFP8Tensor: return {Bytes{n}, Bytes{kFp32Bytes}};
    case WeightFormat::kFP8Block128:
      return {Bytes{n},
              Bytes{kFp32Bytes * ceil_div(rows, kFp8BlockEdge) * ceil_div(cols, kFp8BlockEdge)}};
    case WeightFormat::kNVFP4:
      return {Bytes{rows * ceil_div(cols, 2)},
              Bytes{rows * ceil_div(cols, kNvfp4BlockSize) + kFp32Bytes}};
    case WeightFormat::kMXFP4:
      return {Bytes{rows * ceil_div(cols, 2)}, Bytes{rows * ceil_div(cols, kMxfp4BlockSize)}};
    default: break;
  }
  MOESIM_ASSERT(false, "unhandled weight format");
  return {};
}

WeightBytes weight_bytes(const ModelSpec& m, const CheckpointPrecision& precision) {
  WeightBytes w;
  for (const TensorGroup& g : weight_tensors(m)) {
    const TensorBytes one = tensor_bytes(g.rows, g.cols, precision.of(g.tensor_class));
    const Bytes all = one.total() * g.instances;
    if (g.mtp) {
      w.mtp += all;
      continue;
    }
    w.total += all;
    w.scales += one.scales * g.instances;
    w.by_class[index(g.tensor_class)] += all;
  }
  return w;
}

std::int64_t kv_values_per_token(const ModelSpec& m) {
  return m.attention.kv_values_per_token() * m.num_layers();
}

Bytes kv_cache_bytes_per_token(const ModelSpec& m, DType kv) {
  const std::int64_t bits = kv_values_per_token(m) * bits_of(kv);
  return Bytes{ceil_div(bits, kBitsPerByte)};
}

Bytes kv_cache_bytes(const ModelSpec& m, DType kv, std::int64_t context_tokens) {
  MOESIM_ASSERT(context_tokens >= 0, "a context length is not negative");
  std::int64_t tokens = 0;  // summed over layers
  for (const LayerSpec& l : m.layers) {
    tokens += l.span == AttentionSpan::kFull ? context_tokens : std::min(context_tokens, l.window);
  }
  const std::int64_t bits = tokens * m.attention.kv_values_per_token() * bits_of(kv);
  return Bytes{ceil_div(bits, kBitsPerByte)};
}

}  // namespace moesim::llm
