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
/// hidden_act must be silu (the gated SwiGLU FFN of every supported family).
void check_silu(const config::ConfigNode& json);
/// Card name (and hf_repo) from _name_or_path, else model_type.
void read_header(const config::ConfigNode& json, CardDraft& d);
/// Hidden size, vocabulary, layer count, and tie_word_embeddings from `tie_holder`; returns the
/// layer count.
std::int64_t read_trunk(const config::ConfigNode& json, CardDraft& d,
                        const config::ConfigNode& tie_holder);
/// MHA/GQA heads, KV heads and head width (head_dim, or hidden_size / heads when absent).
void read_gqa(const config::ConfigNode& json, CardDraft& d);
/// rope_theta, rope_scaling and max_position_embeddings.
void read_position(const config::ConfigNode& json, CardDraft& d);
/// Checkpoint formats from torch_dtype and quantization_config (fp8 with 128x128 blocks, or
/// mxfp4).
void read_checkpoint(const config::ConfigNode& json, CardDraft& d);
/// A bias-free SwiGLU FFN of the given width.
FfnDraft swiglu_ffn(Val width);
/// Router fields of a family without group-limited routing or router bias.
void plain_router(MoeDraft& m, std::string scoring, std::string why, Val normalize);
/// Zero shared experts, by the family rule `why`.
void no_shared_experts(MoeDraft& m, std::string why);
/// The layers a layer_types list marks `local_name` (others must be "full_attention");
/// std::nullopt when every layer is full.
std::optional<LayerSet> layer_types(const config::ConfigNode& types, std::int64_t layers,
                                    std::string_view local_name);

}  // namespace moesim::llm::detail
