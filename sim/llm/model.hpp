#pragma once
/// \file
/// ModelSpec: the architecture of a decoder-only transformer LLM (dense or MoE) as described by a
/// model card, models/<name>.yaml. The card schema, its sources and conventions are documented in
/// models/README.md. A ModelSpec holds shapes only; parallel plans, routing and lowering to the
/// StepPlan IR are built on it elsewhere.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"

namespace moesim::llm {

/// How attention keys and values are produced and cached.
enum class AttentionKind {
  kMha,  ///< multi-head: one K/V head per query head
  kGqa,  ///< grouped-query: num_heads / num_kv_heads query heads share a K/V head
  kMla,  ///< multi-head latent attention (DeepSeek-V2/V3): a compressed KV latent is cached
};

/// Which attention biases exist.
enum class AttentionBias {
  kNone,
  kQkv,   ///< biases on the q, k and v projections
  kQkvo,  ///< biases on q, k, v and the output projection
};

/// Per-head normalisation of q and k before attention.
enum class QkNorm {
  kNone,
  kRms,  ///< RMSNorm with a learned weight of head_dim per q and per k (Qwen3)
  kL2,   ///< L2 normalisation without weights (Llama-4 use_qk_norm)
};

/// Which past tokens one layer attends to (and so keeps in its KV cache).
enum class AttentionSpan {
  kFull,     ///< every earlier token
  kSliding,  ///< the last `window` tokens
  kChunked,  ///< the tokens of the current aligned chunk of `window` tokens
};

/// Gated FFN activation.
enum class Activation {
  kSwiGlu,         ///< silu(gate) * up
  kClampedSwiGlu,  ///< gpt-oss: (g * sigmoid(1.702 g)) * (u + 1), g and u clamped to swiglu_limit
};

/// How the router turns its logits into expert weights.
enum class RouterScoring {
  kSoftmax,      ///< softmax over all experts, then top-k
  kSigmoid,      ///< sigmoid per expert, then top-k (DeepSeek-V3)
  kTopkSoftmax,  ///< top-k logits, then softmax over those k (gpt-oss)
  kTopkSigmoid,  ///< top-k logits, then sigmoid of each (Llama-4)
};

/// Storage format of a weight tensor. Byte formulas: param_count.hpp, tensor_bytes().
enum class WeightFormat {
  kBF16,
  kFP16,
  kFP32,
  kFP8Tensor,    ///< FP8 E4M3 with one FP32 scale per tensor
  kFP8Block128,  ///< FP8 E4M3 with one FP32 scale per 128 x 128 block (DeepSeek-V3)
  kNVFP4,        ///< FP4 E2M1, one FP8 E4M3 scale per 16 elements, one FP32 scale per tensor
  kMXFP4,        ///< FP4 E2M1, one E8M0 scale per 32 elements (OCP MX)
};
inline constexpr std::array<WeightFormat, 7> kAllWeightFormats = {
    WeightFormat::kBF16,        WeightFormat::kFP16,  WeightFormat::kFP32, WeightFormat::kFP8Tensor,
    WeightFormat::kFP8Block128, WeightFormat::kNVFP4, WeightFormat::kMXFP4};

/// The classes of weight tensors, for precision choices and byte breakdowns.
enum class TensorClass {
  kEmbedding,      ///< input token embedding table (vocab x hidden)
  kOutputHead,     ///< output projection to the vocabulary (absent when tied to the embedding)
  kAttention,      ///< attention projections, their biases, MLA latent norms, q/k norms, sinks
                   ///< (and the MTP module's eh_proj)
  kDenseFfn,       ///< the FFN of dense layers
  kRoutedExperts,  ///< routed experts of MoE layers (weights and biases)
  kSharedExperts,  ///< shared experts of MoE layers
  kRouter,         ///< router (gate) weights, bias and selection bias
  kNorm,           ///< the per-layer and final RMSNorm weights (and MTP norms)
};
inline constexpr std::size_t kNumTensorClasses = 8;
inline constexpr std::array<TensorClass, kNumTensorClasses> kAllTensorClasses = {
    TensorClass::kEmbedding, TensorClass::kOutputHead,    TensorClass::kAttention,
    TensorClass::kDenseFfn,  TensorClass::kRoutedExperts, TensorClass::kSharedExperts,
    TensorClass::kRouter,    TensorClass::kNorm};

/// YAML spelling of each enum value ("mla", "sliding", "fp8_block128", "routed_experts", ...).
std::string_view to_string(AttentionKind v);
std::string_view to_string(AttentionBias v);
std::string_view to_string(QkNorm v);
std::string_view to_string(AttentionSpan v);
std::string_view to_string(Activation v);
std::string_view to_string(RouterScoring v);
std::string_view to_string(WeightFormat v);
std::string_view to_string(TensorClass v);

/// The attention block, identical in every layer (per-layer spans are in LayerSpec).
struct AttentionSpec {
  AttentionKind kind = AttentionKind::kGqa;
  std::int64_t num_heads = 0;     ///< query heads
  std::int64_t num_kv_heads = 0;  ///< MHA/GQA: K/V heads. MLA: num_heads (one latent for all)
  std::int64_t head_dim = 0;      ///< MHA/GQA: width of each q/k/v head. MLA: unused (0)
  // MLA only (all 0 otherwise):
  std::int64_t q_lora_rank = 0;       ///< query latent width; 0 = queries projected directly
  std::int64_t kv_lora_rank = 0;      ///< cached KV latent width
  std::int64_t qk_nope_head_dim = 0;  ///< per-head q/k width without RoPE
  std::int64_t qk_rope_head_dim = 0;  ///< per-head q width with RoPE; the RoPE key is shared
  std::int64_t v_head_dim = 0;        ///< per-head value width
  AttentionBias bias = AttentionBias::kNone;
  QkNorm qk_norm = QkNorm::kNone;
  bool sinks = false;  ///< learned per-head sink logit (gpt-oss): num_heads parameters per layer

  /// Width of all query heads together: heads x head_dim (MLA: heads x (nope + rope)).
  std::int64_t q_width() const;
  /// Width of all value heads together, the input of the output projection.
  std::int64_t v_width() const;
  /// Values cached per token per layer: 2 x kv_heads x head_dim (MHA/GQA) or
  /// kv_lora_rank + qk_rope_head_dim (MLA, absorbed form; shared by all heads).
  std::int64_t kv_values_per_token() const;
};

/// Position encoding. Informational for now: RoPE changes numerics, not cost.
struct PositionSpec {
  double rope_theta = 0.0;
  std::string scaling_type = "none";  ///< "none", "yarn", "llama3", "linear", "dynamic"
  double scaling_factor = 1.0;        ///< 1 when scaling_type is "none"
  std::int64_t original_max_position_embeddings = 0;  ///< 0 when scaling_type is "none"
  std::int64_t max_position_embeddings = 0;           ///< positions the model accepts
};

/// One gated FFN (a dense FFN or one expert): gate and up projections hidden -> intermediate,
/// down projection intermediate -> hidden.
struct FfnSpec {
  std::int64_t intermediate_size = 0;
  Activation activation = Activation::kSwiGlu;
  double swiglu_limit = 0.0;  ///< clamp of kClampedSwiGlu; 0 otherwise
  bool bias = false;          ///< biases on the gate/up (2 x intermediate) and down (hidden)
};

/// The router of an MoE layer.
struct RouterSpec {
  RouterScoring scoring = RouterScoring::kSoftmax;
  bool normalize_topk = false;   ///< chosen weights divided by their sum
  double scaling_factor = 1.0;   ///< multiplies the routed output (DeepSeek routed_scaling_factor)
  std::int64_t n_group = 1;      ///< expert groups; 1 = no group restriction
  std::int64_t topk_group = 1;   ///< groups a token may choose experts from
  bool bias = false;             ///< the router linear layer has a bias (gpt-oss)
  bool correction_bias = false;  ///< per-expert selection-only bias (DeepSeek noaux_tc)
};

/// The MoE block, identical in every MoE layer.
struct MoeSpec {
  std::int64_t num_experts = 0;        ///< routed experts per layer
  std::int64_t experts_per_token = 0;  ///< top-k
  FfnSpec expert;                      ///< one routed expert
  std::int64_t num_shared_experts = 0;
  std::int64_t shared_intermediate_size = 0;  ///< width of each shared expert (0 if none)
  RouterSpec router;
};

/// What one decoder layer holds besides the common attention block.
struct LayerSpec {
  bool moe = false;  ///< MoE FFN (else the dense FFN)
  AttentionSpan span = AttentionSpan::kFull;
  std::int64_t window = 0;  ///< tokens, for kSliding / kChunked; 0 for kFull
  bool rope = true;         ///< false: no positional encoding (NoPE)
};

/// Storage format per tensor class.
struct CheckpointPrecision {
  std::array<WeightFormat, kNumTensorClasses> formats{};

  /// Every class in `f`.
  static CheckpointPrecision uniform(WeightFormat f);
  WeightFormat of(TensorClass c) const { return formats[static_cast<std::size_t>(c)]; }
  void set(TensorClass c, WeightFormat f) { formats[static_cast<std::size_t>(c)] = f; }
};

/// A model architecture. Built by parse_model(); every field is validated there.
struct ModelSpec {
  std::string name;     ///< display name, e.g. "DeepSeek-R1"
  std::string hf_repo;  ///< Hugging Face repository, or empty
  std::int64_t hidden_size = 0;
  std::int64_t vocab_size = 0;
  bool tie_word_embeddings = false;  ///< output head shares the embedding table
  AttentionSpec attention;
  PositionSpec position;
  std::optional<FfnSpec> dense_ffn;  ///< present exactly when some layer is dense
  std::optional<MoeSpec> moe;        ///< present exactly when some layer is MoE
  std::vector<LayerSpec> layers;     ///< one per decoder layer, in order
  /// DeepSeek-style multi-token-prediction modules, not part of the main model: each is one
  /// decoder layer like the last main layer plus enorm, hnorm (hidden), eh_proj (2 hidden ->
  /// hidden) and a final norm (hidden); embedding and output head are shared with the model.
  std::int64_t mtp_layers = 0;
  /// Measured conditional acceptance rate of each MTP draft position (model card
  /// mtp.acceptance, each in (0, 1]); empty when the card gives none.
  std::vector<double> mtp_acceptance;
  CheckpointPrecision checkpoint;  ///< formats of the published checkpoint

  std::int64_t num_layers() const { return static_cast<std::int64_t>(layers.size()); }
  std::int64_t num_moe_layers() const;
  std::int64_t num_dense_layers() const { return num_layers() - num_moe_layers(); }
  bool is_moe() const { return moe.has_value(); }
};

/// Builds a ModelSpec from a model card (see models/README.md). Unknown keys, wrong kinds and
/// inconsistent values (top-k > experts, heads not divisible by KV heads, a dense FFN that no
/// layer uses, ...) are ConfigErrors at the offending node.
ModelSpec parse_model(const config::ConfigNode& card);

/// Loads models/<name>.yaml from the catalog (section "models"), or a card at a path.
ModelSpec load_model(const config::Catalog& catalog, std::string_view name_or_path);

}  // namespace moesim::llm
