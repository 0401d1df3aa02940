#include "sim/llm/hf_import_detail.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sim/core/assert.hpp"

namespace moesim::llm::detail {

Val Val::from(const config::ConfigNode& n, std::string text) {
  return Val{std::move(text), "config.json " + n.key_path()};
}

Val Val::inferred(std::string text, std::string_view rule) {
  return Val{std::move(text), "inferred from architecture family: " + std::string(rule)};
}

Val Val::derived(std::string text, std::string_view how) {
  return Val{std::move(text), "derived: " + std::string(how)};
}

Val Val::hf_default(std::string text, std::string_view config_class, std::string_view key,
                    std::string_view how) {
  std::string note =
      "transformers default (" + std::string(config_class) + "): " + std::string(key) + " absent";
  if (!how.empty()) note += ", " + std::string(how);
  return Val{std::move(text), std::move(note)};
}

std::string Val::number(double x) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::fixed);
  MOESIM_ASSERT(r.ec == std::errc{}, "a config number fits 64 characters");
  return std::string(buf, r.ptr);
}

std::string Val::quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

using config::ConfigNode;

namespace {

/// Keys that do not change the architecture's cost (token ids, dropout, loss weights, runtime
/// flags, tokenizer hints) or that every family reads the same way.
constexpr std::string_view kCommonKeys[] = {"architectures",
                                            "model_type",
                                            "_name_or_path",
                                            "transformers_version",
                                            "torch_dtype",
                                            "dtype",
                                            "use_cache",
                                            "bos_token_id",
                                            "eos_token_id",
                                            "pad_token_id",
                                            "initializer_range",
                                            "attention_dropout",
                                            "rms_norm_eps",
                                            "auto_map",
                                            "output_router_logits",
                                            "router_aux_loss_coef",
                                            "router_jitter_noise",
                                            "aux_loss_alpha",
                                            "seq_aux",
                                            "pretraining_tp",
                                            "ep_size",
                                            "tie_word_embeddings",
                                            "hidden_act",
                                            "quantization_config",
                                            "max_position_embeddings",
                                            "rope_theta",
                                            "rope_scaling",
                                            "initial_context_length",
                                            "for_llm_compressor",
                                            "return_dict",
                                            "output_attentions",
                                            "output_hidden_states",
                                            "tokenizer_class",
                                            "hidden_size",
                                            "vocab_size",
                                            "num_hidden_layers",
                                            "num_attention_heads",
                                            "num_key_value_heads",
                                            "intermediate_size",
                                            "attention_bias",
                                            "head_dim",
                                            "num_experts_per_tok"};

/// {from, every, offset} text when `set` is {i : i >= from, i % every == offset}.
std::optional<std::string> periodic_text(const LayerSet& set) {
  const auto first_it = std::find(set.begin(), set.end(), true);
  if (first_it == set.end()) return std::nullopt;
  const auto first = static_cast<std::size_t>(first_it - set.begin());
  for (std::size_t every = 1; every <= set.size(); ++every) {
    const std::size_t offset = first % every;
    bool match = true;
    for (std::size_t i = 0; i < set.size() && match; ++i) {
      match = set[i] == (i >= first && i % every == offset);
    }
    if (!match) continue;
    std::string parts;
    const auto add = [&parts](std::string_view key, std::size_t v) {
      if (!parts.empty()) parts += ", ";
      parts += std::string(key) + ": " + std::to_string(v);
    };
    if (first >= every) add("from", first);
    if (every > 1) add("every", every);
    if (every > 1 && offset > 0) add("offset", offset);
    return "{" + parts + "}";
  }
  return std::nullopt;
}

class Writer {
 public:
  void comment(std::string_view text) { out_ << "# " << text << "\n"; }
  void section(int depth, std::string_view key) { indent(depth) << key << ":\n"; }
  void put(int depth, std::string_view key, const Val& v) {
    MOESIM_ASSERT(!v.text.empty(), "every card value is filled");
    indent(depth) << key << ": " << v.text;
    if (!v.note.empty()) out_ << "  # " << v.note;
    out_ << "\n";
  }
  void put(int depth, std::string_view key, const std::optional<Val>& v) {
    if (v) put(depth, key, *v);
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostream& indent(int depth) {
    return out_ << std::string(static_cast<std::size_t>(2 * depth), ' ');
  }
  std::ostringstream out_;
};

void put_ffn_body(Writer& w, int depth, const FfnDraft& f) {
  w.put(depth, "intermediate_size", f.intermediate_size);
  w.put(depth, "activation", f.activation);
  w.put(depth, "swiglu_limit", f.swiglu_limit);
  w.put(depth, "bias", f.bias);
}

}  // namespace

std::string layer_set_text(const LayerSet& set) {
  if (std::all_of(set.begin(), set.end(), [](bool b) { return b; })) return "all";
  if (std::none_of(set.begin(), set.end(), [](bool b) { return b; })) return "none";
  if (auto t = periodic_text(set)) return *t;
  LayerSet complement = set;
  complement.flip();
  if (auto t = periodic_text(complement)) return "{all_except: " + *t + "}";
  std::string list;
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (!set[i]) continue;
    list += (list.empty() ? "" : ", ") + std::to_string(i);
  }
  return "[" + list + "]";
}

std::string render_card(const CardDraft& d) {
  Writer w;
  w.comment("Model card imported from a Hugging Face config.json (" + d.architecture +
            ") by moesim.");
  w.comment("Schema: models/README.md. Values marked \"inferred from architecture family\" are");
  w.comment("not in the config; they follow the family's reference code. Values marked");
  w.comment("\"transformers default\" are keys the config leaves out; they take the default of");
  w.comment("the family's transformers configuration class.");
  for (const std::string& n : d.notes) w.comment(n);
  w.put(0, "name", d.name);
  w.put(0, "hf_repo", d.hf_repo);
  w.put(0, "hidden_size", d.hidden_size);
  w.put(0, "vocab_size", d.vocab_size);
  w.put(0, "num_layers", d.num_layers);
  w.put(0, "tie_word_embeddings", d.tie);

  w.section(0, "attention");
  w.put(1, "kind", d.attn_kind);
  w.put(1, "num_heads", d.num_heads);
  w.put(1, "num_kv_heads", d.num_kv_heads);
  w.put(1, "head_dim", d.head_dim);
  w.put(1, "q_lora_rank", d.q_lora_rank);
  w.put(1, "kv_lora_rank", d.kv_lora_rank);
  w.put(1, "qk_nope_head_dim", d.qk_nope_head_dim);
  w.put(1, "qk_rope_head_dim", d.qk_rope_head_dim);
  w.put(1, "v_head_dim", d.v_head_dim);
  w.put(1, "bias", d.attn_bias);
  w.put(1, "qk_norm", d.qk_norm);
  w.put(1, "sinks", d.sinks);
  w.put(1, "kv_values_per_token_per_layer", d.kv_values);
  if (d.local) {
    w.section(1, "local");
    w.put(2, "kind", d.local->kind);
    w.put(2, "window", d.local->window);
    w.put(2, "layers", d.local->layers);
  }

  w.section(0, "position");
  w.put(1, "rope_theta", d.rope_theta);
  w.put(1, "scaling", d.rope_scaling);
  w.put(1, "max_position_embeddings", d.max_position);
  w.put(1, "nope_layers", d.nope_layers);

  if (d.ffn) {
    w.section(0, "ffn");
    put_ffn_body(w, 1, *d.ffn);
  }
  if (d.moe) {
    const MoeDraft& m = *d.moe;
    w.section(0, "moe");
    w.put(1, "layers", m.layers);
    w.put(1, "num_experts", m.num_experts);
    w.put(1, "experts_per_token", m.experts_per_token);
    put_ffn_body(w, 1, m.expert);
    w.put(1, "shared_experts", m.shared_experts);
    w.put(1, "shared_intermediate_size", m.shared_intermediate_size);
    w.section(1, "router");
    w.put(2, "scoring", m.router.scoring);
    w.put(2, "normalize_topk", m.router.normalize_topk);
    w.put(2, "scaling_factor", m.router.scaling_factor);
    w.put(2, "n_group", m.router.n_group);
    w.put(2, "topk_group", m.router.topk_group);
    w.put(2, "bias", m.router.bias);
    w.put(2, "correction_bias", m.router.correction_bias);
  }
  w.section(0, "mtp");
  w.put(1, "layers", d.mtp_layers);
  w.section(0, "checkpoint");
  for (const auto& [key, v] : d.checkpoint) w.put(1, key, v);
  return w.text();
}

/// Rejects keys of `json` that are neither common nor in `family`.
void check_family_keys(const ConfigNode& json, std::initializer_list<std::string_view> family) {
  std::vector<std::string_view> allowed(std::begin(kCommonKeys), std::end(kCommonKeys));
  allowed.insert(allowed.end(), family.begin(), family.end());
  json.check_keys(std::span<const std::string_view>(allowed.data(), allowed.size()));
}

/// A present, non-null value.
std::optional<ConfigNode> present(const ConfigNode& json, std::string_view key) {
  auto v = json.get(key);
  if (!v || v->is_null()) return std::nullopt;
  return v;
}

std::int64_t int_at(const ConfigNode& json, std::string_view key, std::int64_t min) {
  const ConfigNode v = json.at(key);
  const std::int64_t x = v.as_int();
  if (x < min) v.fail("an integer >= " + std::to_string(min));
  return x;
}

Val int_val(const ConfigNode& json, std::string_view key, std::int64_t min) {
  return Val::from(json.at(key), std::to_string(int_at(json, key, min)));
}

Val bool_val(const ConfigNode& json, std::string_view key) {
  const ConfigNode v = json.at(key);
  return Val::from(v, v.as_bool() ? "true" : "false");
}

bool bool_or(const ConfigNode& json, std::string_view key, bool fallback) {
  const auto v = present(json, key);
  return v ? v->as_bool() : fallback;
}

Val bool_val_or(const ConfigNode& json, std::string_view key, std::string_view config_class,
                bool fallback) {
  if (present(json, key)) return bool_val(json, key);
  return Val::hf_default(fallback ? "true" : "false", config_class, key);
}

std::int64_t int_or(const ConfigNode& json, std::string_view key, std::int64_t min,
                    std::int64_t fallback) {
  return present(json, key) ? int_at(json, key, min) : fallback;
}

Val int_val_or(const ConfigNode& json, std::string_view key, std::int64_t min,
               std::string_view config_class, std::int64_t fallback) {
  if (present(json, key)) return int_val(json, key, min);
  return Val::hf_default(std::to_string(fallback), config_class, key);
}

/// hidden_act must be silu (the gated SwiGLU FFN of every supported family); every supported
/// configuration class defaults it to "silu".
Val silu_activation(const ConfigNode& json, std::string_view config_class) {
  if (const auto act = present(json, "hidden_act")) {
    act->as_choice({"silu"});
    return Val::derived("swiglu", "hidden_act silu, gated FFN");
  }
  return Val::hf_default("swiglu", config_class, "hidden_act", "silu, gated FFN");
}

Val attention_bias(const ConfigNode& json, const HfDefaults& defaults) {
  if (const auto b = present(json, "attention_bias")) {
    return Val::from(*b, b->as_bool() ? "qkvo" : "none");
  }
  return Val::hf_default(defaults.attention_bias ? "qkvo" : "none", defaults.config_class,
                         "attention_bias");
}

void read_header(const ConfigNode& json, CardDraft& d) {
  if (const auto name = present(json, "_name_or_path")) {
    d.name = Val::from(*name, Val::quoted(name->as_string()));
    d.hf_repo = d.name;
  } else {
    const ConfigNode type = json.at("model_type");
    d.name = Val::from(type, Val::quoted(type.as_string()));
  }
}

/// hidden size, vocabulary, layer count and tied embeddings; returns the layer count.
std::int64_t read_trunk(const ConfigNode& json, CardDraft& d, const ConfigNode& tie_holder,
                        std::string_view tie_class) {
  d.hidden_size = int_val(json, "hidden_size");
  d.vocab_size = int_val(json, "vocab_size");
  d.num_layers = int_val(json, "num_hidden_layers");
  d.tie = bool_val_or(tie_holder, "tie_word_embeddings", tie_class, false);
  return int_at(json, "num_hidden_layers", 1);
}

/// MHA/GQA heads and head width. An absent num_key_value_heads or head_dim takes the class
/// default; a null one (or an absent one the class leaves None) is one KV head per query head,
/// and hidden_size / heads, as each class's __post_init__ (or modeling code) resolves None.
void read_gqa(const ConfigNode& json, CardDraft& d, const HfDefaults& defaults) {
  const std::int64_t heads = int_at(json, "num_attention_heads", 1);
  d.num_heads = int_val(json, "num_attention_heads");
  const std::string_view cls = defaults.config_class;
  std::int64_t kv = heads;
  if (const auto k = present(json, "num_key_value_heads")) {
    kv = int_at(json, "num_key_value_heads", 1);
    d.num_kv_heads = Val::from(*k, std::to_string(kv));
  } else if (json.has("num_key_value_heads")) {
    d.num_kv_heads = Val::from(json.at("num_key_value_heads"), std::to_string(kv));
    d.num_kv_heads->note += " null, one per attention head";
  } else if (!defaults.num_key_value_heads) {
    d.num_kv_heads =
        Val::hf_default(std::to_string(kv), cls, "num_key_value_heads", "one per attention head");
  } else {
    kv = *defaults.num_key_value_heads;
    d.num_kv_heads = Val::hf_default(std::to_string(kv), cls, "num_key_value_heads");
  }
  std::int64_t head_dim = 0;
  if (const auto h = present(json, "head_dim")) {
    head_dim = int_at(json, "head_dim", 1);
    d.head_dim = Val::from(*h, std::to_string(head_dim));
  } else if (json.has("head_dim") || !defaults.head_dim) {
    const std::int64_t hidden = int_at(json, "hidden_size", 1);
    if (hidden % heads != 0) json.at("hidden_size").fail("a multiple of num_attention_heads");
    head_dim = hidden / heads;
    const std::string how = "hidden_size / num_attention_heads";
    if (json.has("head_dim")) {
      d.head_dim = Val::from(json.at("head_dim"), std::to_string(head_dim));
      d.head_dim->note += " null, " + how;
    } else {
      d.head_dim = Val::hf_default(std::to_string(head_dim), cls, "head_dim", how);
    }
  } else {
    head_dim = *defaults.head_dim;
    d.head_dim = Val::hf_default(std::to_string(head_dim), cls, "head_dim");
  }
  d.attn_kind = Val::derived(kv == heads ? "mha" : "gqa", "num_key_value_heads vs heads");
  d.kv_values = Val::derived(std::to_string(2 * kv * head_dim), "2 x KV heads x head_dim");
}

void read_position(const ConfigNode& json, CardDraft& d, const HfDefaults& defaults) {
  const std::string_view cls = defaults.config_class;
  if (const auto theta = present(json, "rope_theta")) {
    d.rope_theta = Val::from(*theta, Val::number(theta->as_double()));
  } else {
    d.rope_theta = Val::hf_default(Val::number(defaults.rope_theta), cls, "rope_theta");
  }
  d.max_position =
      int_val_or(json, "max_position_embeddings", 1, cls, defaults.max_position_embeddings);
  if (!json.has("rope_scaling")) {
    d.rope_scaling = Val::hf_default(defaults.rope_scaling, cls, "rope_scaling");
    return;
  }
  const auto s = present(json, "rope_scaling");
  if (!s) {
    d.rope_scaling = Val::from(json.at("rope_scaling"), "none");
    d.rope_scaling.note += " null";
    return;
  }
  s->check_keys({"type", "rope_type", "factor", "original_max_position_embeddings", "beta_fast",
                 "beta_slow", "mscale", "mscale_all_dim", "low_freq_factor", "high_freq_factor",
                 "truncate", "attention_factor"});
  const ConfigNode type = s->has("rope_type") ? s->at("rope_type") : s->at("type");
  const std::string t = type.as_choice({"default", "yarn", "llama3", "linear", "dynamic"});
  if (t == "default") {
    d.rope_scaling = Val::from(type, "none");
    return;
  }
  std::string text = "{type: " + t + ", factor: " + Val::number(s->at("factor").as_double());
  if (s->has("original_max_position_embeddings")) {
    text += ", original_max_position_embeddings: " +
            std::to_string(int_at(*s, "original_max_position_embeddings", 1));
  }
  d.rope_scaling = Val::from(*s, text + "}");
}

/// Checkpoint formats from torch_dtype and quantization_config.
void read_checkpoint(const ConfigNode& json, CardDraft& d) {
  std::optional<ConfigNode> dtype = present(json, "torch_dtype");
  if (!dtype) dtype = present(json, "dtype");
  if (dtype) {
    const std::string t = dtype->as_choice({"bfloat16", "float16", "float32"});
    d.checkpoint.emplace_back("default", Val::from(*dtype, t == "bfloat16"  ? "bf16"
                                                           : t == "float16" ? "fp16"
                                                                            : "fp32"));
  } else {
    d.checkpoint.emplace_back("default", Val::inferred("bf16", "no torch_dtype: BF16"));
  }
  const auto q = present(json, "quantization_config");
  if (!q) return;
  q->check_keys(
      {"quant_method", "fmt", "activation_scheme", "weight_block_size", "modules_to_not_convert"});
  const std::string method = q->at("quant_method").as_choice({"fp8", "mxfp4"});
  if (method == "fp8") {
    if (const auto fmt = q->get("fmt")) fmt->as_choice({"e4m3"});
    const ConfigNode block = q->at("weight_block_size");
    if (!block.is_sequence() || block.size() != 2 || block[0].as_int() != 128 ||
        block[1].as_int() != 128) {
      block.fail("[128, 128] (the only FP8 layout moesim models)");
    }
    d.notes.push_back(
        "quantization_config fp8 (E4M3, 128x128 blocks): the family converts the attention and "
        "FFN projections; embedding, head, norms and router stay in torch_dtype.");
    const Val fp8 = Val::inferred("fp8_block128", "projections in FP8 (see header)");
    for (const char* c : {"attention", "dense_ffn", "routed_experts", "shared_experts"}) {
      d.checkpoint.emplace_back(c, fp8);
    }
    return;
  }
  d.checkpoint.emplace_back(
      "routed_experts",
      Val::inferred("mxfp4",
                    "quantization_config mxfp4 converts the MoE expert weights only "
                    "(gpt-oss modules_to_not_convert: attention, router, embedding, "
                    "head)"));
}

FfnDraft swiglu_ffn(Val width, Val activation) {
  FfnDraft f;
  f.intermediate_size = std::move(width);
  f.activation = std::move(activation);
  f.bias = Val::inferred("false", "no FFN biases");
  return f;
}

/// Router fields shared by families without group-limited routing.
void plain_router(MoeDraft& m, std::string scoring, std::string why, Val normalize) {
  m.router.scoring = Val::inferred(std::move(scoring), std::move(why));
  m.router.normalize_topk = std::move(normalize);
  m.router.scaling_factor = Val::inferred("1", "no routed scaling");
  m.router.n_group = Val::inferred("1", "no expert groups");
  m.router.topk_group = Val::inferred("1", "no expert groups");
  m.router.bias = Val::inferred("false", "router without bias");
  m.router.correction_bias = Val::inferred("false", "no selection bias");
}

void no_shared_experts(MoeDraft& m, std::string why) {
  m.shared_experts = Val::inferred("0", std::move(why));
}

/// `local` layers from a layer_types list ("sliding_attention" / "chunked_attention" /
/// "full_attention"); std::nullopt when every layer is full.
std::optional<LayerSet> layer_types(const ConfigNode& types, std::int64_t layers,
                                    std::string_view local_name) {
  if (types.size() != static_cast<std::size_t>(layers)) {
    types.fail("one entry per layer (" + std::to_string(layers) + ")");
  }
  LayerSet set(static_cast<std::size_t>(layers), false);
  bool any = false;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const std::string t = types[i].as_choice({"full_attention", local_name});
    set[i] = t != "full_attention";
    any = any || set[i];
  }
  if (!any) return std::nullopt;
  return set;
}

}  // namespace moesim::llm::detail
