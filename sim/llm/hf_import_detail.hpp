#pragma once
/// \file
/// Internal to hf_import.cpp: the draft of a model card (each value with the comment that says
/// where it came from), its rendering as YAML text in the layout of models/README.md, and the
/// config.json readers the architecture families share.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/config_node.hpp"

namespace moesim::llm::detail {

/// One value of the card as YAML text, with its provenance comment.
struct Val {
  std::string text;
  std::string note;  ///< written after the value as "# note"; empty for none

  /// Read from the config: the note names the key path ("config.json text_config.head_dim").
  static Val from(const config::ConfigNode& n, std::string text);
  /// Filled by a family rule: "inferred from architecture family: <rule>".
  static Val inferred(std::string text, std::string_view rule);
  /// Computed from other config values: "derived: <how>".
  static Val derived(std::string text, std::string_view how);
  /// The default `config_class` gives `key` when the config leaves it out:
  /// "transformers default (LlamaConfig): attention_bias absent[, <how>]".
  static Val hf_default(std::string text, std::string_view config_class, std::string_view key,
                        std::string_view how = {});
  /// Shortest fixed-point text of a finite number ("10000", "2.827").
  static std::string number(double x);
  /// A double-quoted YAML string.
  static std::string quoted(std::string_view s);
};

/// Membership of each layer in a set of layers.
using LayerSet = std::vector<bool>;

/// The most compact card spelling of a layer set: all, none, {from, every, offset},
/// {all_except: ...} or an explicit list.
std::string layer_set_text(const LayerSet& set);

/// attention.local of a card.
struct LocalDraft {
  Val kind, window, layers;
};

/// The `ffn` section, or the expert fields of `moe`.
struct FfnDraft {
  Val intermediate_size, activation;
  std::optional<Val> swiglu_limit;
  Val bias;
};

/// moe.router of a card.
struct RouterDraft {
  Val scoring, normalize_topk, scaling_factor, n_group, topk_group, bias, correction_bias;
};

/// The `moe` section of a card.
struct MoeDraft {
  Val layers, num_experts, experts_per_token;
  FfnDraft expert;
  Val shared_experts;
  std::optional<Val> shared_intermediate_size;
  RouterDraft router;
};

/// A whole card. Optional members are left out of the YAML when empty.
struct CardDraft {
  std::string architecture;        ///< architectures[0], for the header comment
  std::vector<std::string> notes;  ///< extra header comment lines
  Val name;
  std::optional<Val> hf_repo;
  Val hidden_size, vocab_size, num_layers, tie;
  Val attn_kind, num_heads;
  std::optional<Val> num_kv_heads, head_dim;  // MHA/GQA
  std::optional<Val> q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim,
      v_head_dim;  // MLA
  Val attn_bias, qk_norm, sinks, kv_values;
  std::optional<LocalDraft> local;
  Val rope_theta, rope_scaling, max_position;
  std::optional<Val> nope_layers;
  std::optional<FfnDraft> ffn;
  std::optional<MoeDraft> moe;
  Val mtp_layers;
  std::vector<std::pair<std::string, Val>> checkpoint;  ///< class name -> format
};

/// The YAML text of `d`.
std::string render_card(const CardDraft& d);

/// What a family's transformers configuration class gives the keys a config.json may leave
/// out (absent or null), so that a config keeps the meaning transformers gives it. Dimensions
/// (hidden size, layers, heads, vocabulary, FFN widths, expert counts, latent ranks) have no
/// default here: transformers' defaults for them are one particular model's sizes.
struct HfDefaults {
  std::string_view config_class;                    ///< "LlamaConfig", for the notes
  std::optional<std::int64_t> num_key_value_heads;  ///< std::nullopt: one per attention head
  std::optional<std::int64_t> head_dim;             ///< std::nullopt: hidden_size / heads
  std::int64_t max_position_embeddings = 0;         ///< tokens
  double rope_theta = 0;                            ///< RoPE base
  std::string rope_scaling = "none";                ///< card text of the default scaling
  bool attention_bias = false;                      ///< q/k/v/o projection biases
};

/// Each family's HfDefaults, with their sources in huggingface/transformers
/// (hf_import_defaults.cpp).
extern const HfDefaults kLlamaDefaults;
extern const HfDefaults kMixtralDefaults;
extern const HfDefaults kQwen3MoeDefaults;
extern const HfDefaults kDeepseekV3Defaults;
extern const HfDefaults kGptOssDefaults;
extern const HfDefaults kLlama4TextDefaults;

/// Keys DeepseekV3Config does not define, whose absence the transformers DeepSeek-V3 model
/// (src/transformers/models/deepseek_v3/modeling_deepseek_v3.py at 00b676f8f048) fixes: the
/// DeepseekV3TopkRouter scores with a sigmoid, adds e_score_correction_bias and limits the
/// choice to topk_group of n_group groups (topk_method noaux_tc); every layer from
/// first_k_dense_replace on is MoE (moe_layer_freq 1); no MTP layers are built.
inline constexpr std::string_view kDeepseekV3Modeling = "modeling_deepseek_v3.py";

// ---- config.json readers shared by the families (each throws ConfigError at the bad key) ----

/// Rejects keys of `json` that are neither in the common list (token ids, dropout, loss
/// coefficients, runtime flags and the fields every family reads) nor in `family`.
void check_family_keys(const config::ConfigNode& json,
                       std::initializer_list<std::string_view> family);
/// The value of `key` when present and not null.
std::optional<config::ConfigNode> present(const config::ConfigNode& json, std::string_view key);
/// An integer >= `min` at `key`.
std::int64_t int_at(const config::ConfigNode& json, std::string_view key, std::int64_t min);
/// int_at() as a card value that names its key.
Val int_val(const config::ConfigNode& json, std::string_view key, std::int64_t min = 1);
/// A boolean at `key` as a card value.
Val bool_val(const config::ConfigNode& json, std::string_view key);
/// The boolean at `key`, or `fallback` when the key is absent or null.
bool bool_or(const config::ConfigNode& json, std::string_view key, bool fallback);
/// bool_or() as a card value: the key's, or `config_class`'s default.
Val bool_val_or(const config::ConfigNode& json, std::string_view key, std::string_view config_class,
                bool fallback);
/// An integer >= `min` at `key`, or `fallback` when the key is absent or null.
std::int64_t int_or(const config::ConfigNode& json, std::string_view key, std::int64_t min,
                    std::int64_t fallback);
/// int_or() as a card value: the key's, or `config_class`'s default.
Val int_val_or(const config::ConfigNode& json, std::string_view key, std::int64_t min,
               std::string_view config_class, std::int64_t fallback);
/// The card's FFN activation: hidden_act must be silu (the gated SwiGLU FFN of every supported
/// family), the default of every supported `config_class` when absent.
Val silu_activation(const config::ConfigNode& json, std::string_view config_class);
/// attention.bias of the card from attention_bias (q/k/v/o biases), or the family's default.
Val attention_bias(const config::ConfigNode& json, const HfDefaults& defaults);
/// Card name (and hf_repo) from _name_or_path, else model_type.
void read_header(const config::ConfigNode& json, CardDraft& d);
/// Hidden size, vocabulary, layer count, and tie_word_embeddings from `tie_holder` (whose class
/// `tie_class` defaults it to false); returns the layer count.
std::int64_t read_trunk(const config::ConfigNode& json, CardDraft& d,
                        const config::ConfigNode& tie_holder, std::string_view tie_class);
/// MHA/GQA heads, KV heads and head width, each absent one by `defaults`; a null
/// num_key_value_heads or head_dim is the one-per-head / hidden_size / heads fallback.
void read_gqa(const config::ConfigNode& json, CardDraft& d, const HfDefaults& defaults);
/// rope_theta, rope_scaling and max_position_embeddings, each absent one by `defaults`.
void read_position(const config::ConfigNode& json, CardDraft& d, const HfDefaults& defaults);
/// Checkpoint formats from torch_dtype and quantization_config (fp8 with 128x128 blocks, or
/// mxfp4).
void read_checkpoint(const config::ConfigNode& json, CardDraft& d);
/// A bias-free SwiGLU FFN of the given width, with the card activation `activation`
/// (silu_activation()).
FfnDraft swiglu_ffn(Val width, Val activation);
/// Router fields of a family without group-limited routing or router bias.
void plain_router(MoeDraft& m, std::string scoring, std::string why, Val normalize);
/// Zero shared experts, by the family rule `why`.
void no_shared_experts(MoeDraft& m, std::string why);
/// The layers a layer_types list marks `local_name` (others must be "full_attention");
/// std::nullopt when every layer is full.
std::optional<LayerSet> layer_types(const config::ConfigNode& types, std::int64_t layers,
                                    std::string_view local_name);

}  // namespace moesim::llm::detail
