#include "sim/llm/model.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moesim::llm {

using config::ConfigNode;

std::string_view to_string(AttentionKind v) {
  switch (v) {
    case AttentionKind::kMha: return "mha";
    case AttentionKind::kGqa: return "gqa";
    case AttentionKind::kMla: return "mla";
  }
  return "?";
}

std::string_view to_string(AttentionBias v) {
  switch (v) {
    case AttentionBias::kNone: return "none";
    case AttentionBias::kQkv: return "qkv";
    case AttentionBias::kQkvo: return "qkvo";
  }
  return "?";
}

std::string_view to_string(QkNorm v) {
  switch (v) {
    case QkNorm::kNone: return "none";
    case QkNorm::kRms: return "rms";
    case QkNorm::kL2: return "l2";
  }
  return "?";
}

std::string_view to_string(AttentionSpan v) {
  switch (v) {
    case AttentionSpan::kFull: return "full";
    case AttentionSpan::kSliding: return "sliding";
    case AttentionSpan::kChunked: return "chunked";
  }
  return "?";
}

std::string_view to_string(Activation v) {
  switch (v) {
    case Activation::kSwiGlu: return "swiglu";
    case Activation::kClampedSwiGlu: return "clamped_swiglu";
  }
  return "?";
}

std::string_view to_string(RouterScoring v) {
  switch (v) {
    case RouterScoring::kSoftmax: return "softmax";
    case RouterScoring::kSigmoid: return "sigmoid";
    case RouterScoring::kTopkSoftmax: return "topk_softmax";
    case RouterScoring::kTopkSigmoid: return "topk_sigmoid";
  }
  return "?";
}

std::string_view to_string(WeightFormat v) {
  switch (v) {
    case WeightFormat::kBF16: return "bf16";
    case WeightFormat::kFP16: return "fp16";
    case WeightFormat::kFP32: return "fp32";
    case WeightFormat::kFP8Tensor: return "fp8_tensor";
    case WeightFormat::kFP8Block128: return "fp8_block128";
    case WeightFormat::kNVFP4: return "nvfp4";
    case WeightFormat::kMXFP4: return "mxfp4";
  }
  return "?";
}

std::string_view to_string(TensorClass v) {
  switch (v) {
    case TensorClass::kEmbedding: return "embedding";
    case TensorClass::kOutputHead: return "output_head";
    case TensorClass::kAttention: return "attention";
    case TensorClass::kDenseFfn: return "dense_ffn";
    case TensorClass::kRoutedExperts: return "routed_experts";
    case TensorClass::kSharedExperts: return "shared_experts";
    case TensorClass::kRouter: return "router";
    case TensorClass::kNorm: return "norms";
  }
  return "?";
}

std::int64_t AttentionSpec::q_width() const {
  if (kind == AttentionKind::kMla) return num_heads * (qk_nope_head_dim + qk_rope_head_dim);
  return num_heads * head_dim;
}

std::int64_t AttentionSpec::v_width() const {
  if (kind == AttentionKind::kMla) return num_heads * v_head_dim;
  return num_heads * head_dim;
}

std::int64_t AttentionSpec::kv_values_per_token() const {
  if (kind == AttentionKind::kMla) return kv_lora_rank + qk_rope_head_dim;
  return 2 * num_kv_heads * head_dim;
}

CheckpointPrecision CheckpointPrecision::uniform(WeightFormat f) {
  CheckpointPrecision p;
  p.formats.fill(f);
  return p;
}

std::int64_t ModelSpec::num_moe_layers() const {
  return static_cast<std::int64_t>(
      std::count_if(layers.begin(), layers.end(), [](const LayerSpec& l) { return l.moe; }));
}

namespace {

/// An integer >= `min` at `key` of `n`.
std::int64_t read_int(const ConfigNode& n, std::string_view key, std::int64_t min) {
  const ConfigNode v = n.at(key);
  const std::int64_t x = v.as_int();
  if (x < min) v.fail("an integer >= " + std::to_string(min));
  return x;
}

/// Most layers a model card may have: far above any published model (DeepSeek-R1 61, Llama 3.1
/// 405B 126), low enough that the per-layer tables stay small. Without it, num_layers: 2^63 - 1
/// threw std::length_error from the layer vector (an internal error; found by the fuzz test).
constexpr std::int64_t kMaxLayers = 10'000;

/// A finite number > 0 at `key` of `n`.
double read_positive(const ConfigNode& n, std::string_view key) {
  const ConfigNode v = n.at(key);
  const double x = v.as_double();
  if (!(x > 0.0)) v.fail("a number > 0");
  return x;
}

template <class Enum, std::size_t N>
Enum read_enum(const ConfigNode& v, const std::array<Enum, N>& values) {
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = to_string(values[i]);
  const std::string s = v.as_choice(std::span<const std::string_view>(names.data(), N));
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == s) return values[i];
  }
  v.fail("a known value");
}

std::string layer_range_text(std::int64_t num_layers) {
  return "0.." + std::to_string(num_layers - 1);
}

/// A set of layer indices: `all`, `none`, a list of indices, {from, every, offset} (layer i is in
/// the set when i >= from and i % every == offset) or {all_except: <set>}.
std::vector<bool> parse_layer_set(const ConfigNode& n, std::int64_t num_layers) {
  const auto count = static_cast<std::size_t>(num_layers);
  if (n.is_scalar()) {
    const std::string s = n.as_choice({"all", "none"});
    return std::vector<bool>(count, s == "all");
  }
  std::vector<bool> in(count, false);
  if (n.is_sequence()) {
    std::int64_t previous = -1;
    for (const ConfigNode& item : n.items()) {
      const std::int64_t i = item.as_int();
      if (i < 0 || i >= num_layers) item.fail("a layer index in " + layer_range_text(num_layers));
      if (i <= previous) item.fail("layer indices in increasing order, each once");
      in[static_cast<std::size_t>(i)] = true;
      previous = i;
    }
    return in;
  }
  if (!n.is_map()) n.fail("all, none, a list of layer indices or a map {from, every, offset}");
  if (n.has("all_except")) {
    n.check_keys({"all_except"});
    std::vector<bool> out = parse_layer_set(n.at("all_except"), num_layers);
    out.flip();
    return out;
  }
  n.check_keys({"from", "every", "offset", "all_except"});
  const std::int64_t from = n.has("from") ? read_int(n, "from", 0) : 0;
  if (from > num_layers) n.at("from").fail("a layer index in 0.." + std::to_string(num_layers));
  const std::int64_t every = n.has("every") ? read_int(n, "every", 1) : 1;
  const std::int64_t offset = n.has("offset") ? read_int(n, "offset", 0) : 0;
  if (offset >= every) n.at("offset").fail("an offset below every (" + std::to_string(every) + ")");
  for (std::int64_t i = from; i < num_layers; ++i) {
    if (i % every == offset) in[static_cast<std::size_t>(i)] = true;
  }
  return in;
}

FfnSpec parse_ffn_body(const ConfigNode& n) {
  FfnSpec f;
  f.intermediate_size = read_int(n, "intermediate_size", 1);
  f.activation =
      read_enum(n.at("activation"), std::array{Activation::kSwiGlu, Activation::kClampedSwiGlu});
  if (f.activation == Activation::kClampedSwiGlu) {
    f.swiglu_limit = read_positive(n, "swiglu_limit");
  } else if (n.has("swiglu_limit")) {
    n.at("swiglu_limit").fail("no swiglu_limit (only for activation clamped_swiglu)");
  }
  f.bias = n.at("bias").as_bool();
  return f;
}

FfnSpec parse_ffn(const ConfigNode& n) {
  n.check_keys({"intermediate_size", "activation", "swiglu_limit", "bias"});
  return parse_ffn_body(n);
}

RouterSpec parse_router(const ConfigNode& n, const MoeSpec& moe) {
  n.check_keys({"scoring", "normalize_topk", "scaling_factor", "n_group", "topk_group", "bias",
                "correction_bias"});
  RouterSpec r;
  r.scoring = read_enum(n.at("scoring"),
                        std::array{RouterScoring::kSoftmax, RouterScoring::kSigmoid,
                                   RouterScoring::kTopkSoftmax, RouterScoring::kTopkSigmoid});
  r.normalize_topk = n.at("normalize_topk").as_bool();
  r.scaling_factor = read_positive(n, "scaling_factor");
  r.n_group = read_int(n, "n_group", 1);
  if (moe.num_experts % r.n_group != 0) {
    n.at("n_group").fail("a divisor of num_experts (" + std::to_string(moe.num_experts) + ")");
  }
  r.topk_group = read_int(n, "topk_group", 1);
  if (r.topk_group > r.n_group) {
    n.at("topk_group").fail("topk_group <= n_group (" + std::to_string(r.n_group) + ")");
  }
  const std::int64_t reachable = r.topk_group * (moe.num_experts / r.n_group);
  if (moe.experts_per_token > reachable) {
    n.at("topk_group")
        .fail("enough groups for experts_per_token " + std::to_string(moe.experts_per_token) +
              " (the chosen groups hold " + std::to_string(reachable) + " experts)");
  }
  r.bias = n.at("bias").as_bool();
  r.correction_bias = n.at("correction_bias").as_bool();
  return r;
}

MoeSpec parse_moe(const ConfigNode& n) {
  n.check_keys({"layers", "num_experts", "experts_per_token", "intermediate_size", "activation",
                "swiglu_limit", "bias", "shared_experts", "shared_intermediate_size", "router"});
  MoeSpec m;
  m.num_experts = read_int(n, "num_experts", 1);
  m.experts_per_token = read_int(n, "experts_per_token", 1);
  if (m.experts_per_token > m.num_experts) {
    n.at("experts_per_token")
        .fail("experts_per_token <= num_experts (" + std::to_string(m.num_experts) + ")");
  }
  m.expert = parse_ffn_body(n);
  m.num_shared_experts = read_int(n, "shared_experts", 0);
  if (m.num_shared_experts > 0) {
    m.shared_intermediate_size = read_int(n, "shared_intermediate_size", 1);
  } else if (n.has("shared_intermediate_size")) {
    n.at("shared_intermediate_size").fail("no shared_intermediate_size (shared_experts is 0)");
  }
  m.router = parse_router(n.at("router"), m);
  return m;
}

AttentionSpec parse_attention(const ConfigNode& n) {
  AttentionSpec a;
  a.kind = read_enum(n.at("kind"),
                     std::array{AttentionKind::kMha, AttentionKind::kGqa, AttentionKind::kMla});
  if (a.kind == AttentionKind::kMla) {
    n.check_keys({"kind", "num_heads", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
                  "qk_rope_head_dim", "v_head_dim", "bias", "qk_norm", "sinks", "local",
                  "kv_values_per_token_per_layer"});
    a.num_heads = read_int(n, "num_heads", 1);
    a.num_kv_heads = a.num_heads;
    a.q_lora_rank = read_int(n, "q_lora_rank", 0);
    a.kv_lora_rank = read_int(n, "kv_lora_rank", 1);
    a.qk_nope_head_dim = read_int(n, "qk_nope_head_dim", 1);
    a.qk_rope_head_dim = read_int(n, "qk_rope_head_dim", 1);
    a.v_head_dim = read_int(n, "v_head_dim", 1);
  } else {
    n.check_keys({"kind", "num_heads", "num_kv_heads", "head_dim", "bias", "qk_norm", "sinks",
                  "local", "kv_values_per_token_per_layer"});
    a.num_heads = read_int(n, "num_heads", 1);
    if (a.kind == AttentionKind::kGqa) {
      a.num_kv_heads = read_int(n, "num_kv_heads", 1);
      if (a.num_heads % a.num_kv_heads != 0) {
        n.at("num_kv_heads").fail("a divisor of num_heads (" + std::to_string(a.num_heads) + ")");
      }
    } else {
      a.num_kv_heads = n.has("num_kv_heads") ? read_int(n, "num_kv_heads", 1) : a.num_heads;
      if (a.num_kv_heads != a.num_heads) {
        n.at("num_kv_heads").fail("num_kv_heads = num_heads for mha (or kind gqa)");
      }
    }
    a.head_dim = read_int(n, "head_dim", 1);
  }
  a.bias = read_enum(n.at("bias"),
                     std::array{AttentionBias::kNone, AttentionBias::kQkv, AttentionBias::kQkvo});
  if (a.kind == AttentionKind::kMla && a.bias != AttentionBias::kNone) {
    n.at("bias").fail("none (attention biases are not modelled for mla)");
  }
  a.qk_norm = read_enum(n.at("qk_norm"), std::array{QkNorm::kNone, QkNorm::kRms, QkNorm::kL2});
  if (a.kind == AttentionKind::kMla && a.qk_norm != QkNorm::kNone) {
    n.at("qk_norm").fail("none (mla normalises its latents instead)");
  }
  a.sinks = n.at("sinks").as_bool();
  if (const auto kv = n.get("kv_values_per_token_per_layer")) {
    if (kv->as_int() != a.kv_values_per_token()) {
      kv->fail("the derived value " + std::to_string(a.kv_values_per_token()));
    }
  }
  return a;
}

PositionSpec parse_position(const ConfigNode& n) {
  n.check_keys({"rope_theta", "scaling", "max_position_embeddings", "nope_layers"});
  PositionSpec p;
  p.rope_theta = read_positive(n, "rope_theta");
  p.max_position_embeddings = read_int(n, "max_position_embeddings", 1);
  const ConfigNode s = n.at("scaling");
  if (s.is_scalar()) {
    s.as_choice({"none"});
    return p;
  }
  s.check_keys({"type", "factor", "original_max_position_embeddings"});
  p.scaling_type = s.at("type").as_choice({"yarn", "llama3", "linear", "dynamic"});
  p.scaling_factor = read_positive(s, "factor");
  if (s.has("original_max_position_embeddings")) {
    p.original_max_position_embeddings = read_int(s, "original_max_position_embeddings", 1);
  }
  return p;
}

void apply_local_attention(const ConfigNode& n, std::vector<LayerSpec>& layers) {
  n.check_keys({"kind", "window", "layers"});
  const AttentionSpan span =
      read_enum(n.at("kind"), std::array{AttentionSpan::kSliding, AttentionSpan::kChunked});
  const std::int64_t window = read_int(n, "window", 1);
  const std::vector<bool> in =
      parse_layer_set(n.at("layers"), static_cast<std::int64_t>(layers.size()));
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (!in[i]) continue;
    layers[i].span = span;
    layers[i].window = window;
  }
}

CheckpointPrecision parse_checkpoint(const ConfigNode& n) {
  std::vector<std::string_view> keys = {"default"};
  for (TensorClass c : kAllTensorClasses) keys.push_back(to_string(c));
  n.check_keys(std::span<const std::string_view>(keys.data(), keys.size()));
  const auto format_at = [](const ConfigNode& v) { return read_enum(v, kAllWeightFormats); };
  CheckpointPrecision p = CheckpointPrecision::uniform(format_at(n.at("default")));
  for (TensorClass c : kAllTensorClasses) {
    if (const auto v = n.get(to_string(c))) p.set(c, format_at(*v));
  }
  return p;
}

}  // namespace

ModelSpec parse_model(const ConfigNode& card) {
  card.check_keys({"name", "hf_repo", "hidden_size", "vocab_size", "num_layers",
                   "tie_word_embeddings", "attention", "position", "ffn", "moe", "mtp",
                   "checkpoint"});
  ModelSpec m;
  m.name = card.at("name").as_string();
  if (m.name.empty()) card.at("name").fail("a non-empty name");
  if (const auto repo = card.get("hf_repo")) m.hf_repo = repo->as_string();
  m.hidden_size = read_int(card, "hidden_size", 1);
  m.vocab_size = read_int(card, "vocab_size", 1);
  const std::int64_t num_layers = read_int(card, "num_layers", 1);
  if (num_layers > kMaxLayers) {
    card.at("num_layers").fail("an integer from 1 to " + std::to_string(kMaxLayers));
  }
  m.tie_word_embeddings = card.at("tie_word_embeddings").as_bool();
  m.layers.assign(static_cast<std::size_t>(num_layers), LayerSpec{});

  const ConfigNode attention = card.at("attention");
  m.attention = parse_attention(attention);
  if (const auto local = attention.get("local")) apply_local_attention(*local, m.layers);

  const ConfigNode position = card.at("position");
  m.position = parse_position(position);
  if (const auto nope = position.get("nope_layers")) {
    const std::vector<bool> in = parse_layer_set(*nope, num_layers);
    for (std::size_t i = 0; i < m.layers.size(); ++i) m.layers[i].rope = !in[i];
  }

  if (const auto moe = card.get("moe")) {
    m.moe = parse_moe(*moe);
    const std::vector<bool> in = parse_layer_set(moe->at("layers"), num_layers);
    for (std::size_t i = 0; i < m.layers.size(); ++i) m.layers[i].moe = in[i];
    if (m.num_moe_layers() == 0) moe->at("layers").fail("at least one MoE layer");
  }
  if (const auto ffn = card.get("ffn")) {
    if (m.num_dense_layers() == 0) ffn->fail("no ffn section (every layer is MoE)");
    m.dense_ffn = parse_ffn(*ffn);
  } else if (m.num_dense_layers() > 0) {
    card.fail("key 'ffn' (" + std::to_string(m.num_dense_layers()) + " layers are dense)",
              "no ffn section");
  }

  if (const auto mtp = card.get("mtp")) {
    mtp->check_keys({"layers", "acceptance"});
    m.mtp_layers = read_int(*mtp, "layers", 0);
    if (const auto acceptance = mtp->get("acceptance")) {
      if (!acceptance->is_sequence()) acceptance->fail("a list of acceptance rates in (0, 1]");
      for (const auto& a : acceptance->items()) {
        const double v = a.as_double();
        if (!(v > 0.0 && v <= 1.0)) a.fail("an acceptance rate in (0, 1]");
        m.mtp_acceptance.push_back(v);
      }
    }
  }
  m.checkpoint = parse_checkpoint(card.at("checkpoint"));
  return m;
}

ModelSpec load_model(const config::Catalog& catalog, std::string_view name_or_path) {
  return parse_model(catalog.load("models", name_or_path));
}

}  // namespace moesim::llm
