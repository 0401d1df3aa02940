#include "sim/llm/hf_import.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/llm/hf_import_detail.hpp"
#include "sim/llm/model.hpp"

namespace moesim::llm {

using config::ConfigNode;
using detail::attention_bias;
using detail::bool_or;
using detail::bool_val;
using detail::bool_val_or;
using detail::CardDraft;
using detail::check_family_keys;
using detail::FfnDraft;
using detail::HfDefaults;
using detail::int_at;
using detail::int_or;
using detail::int_val;
using detail::int_val_or;
using detail::kDeepseekV3Defaults;
using detail::kDeepseekV3Modeling;
using detail::kGptOssDefaults;
using detail::kLlama4TextDefaults;
using detail::kLlamaDefaults;
using detail::kMixtralDefaults;
using detail::kQwen3MoeDefaults;
using detail::layer_types;
using detail::LayerSet;
using detail::MoeDraft;
using detail::no_shared_experts;
using detail::plain_router;
using detail::present;
using detail::read_checkpoint;
using detail::read_gqa;
using detail::read_header;
using detail::read_position;
using detail::read_trunk;
using detail::silu_activation;
using detail::swiglu_ffn;
using detail::Val;

namespace {

constexpr std::string_view kDeepseekV3 = "DeepseekV3ForCausalLM";
constexpr std::string_view kQwen3Moe = "Qwen3MoeForCausalLM";
constexpr std::string_view kMixtral = "MixtralForCausalLM";
constexpr std::string_view kGptOss = "GptOssForCausalLM";
constexpr std::string_view kLlama4 = "Llama4ForConditionalGeneration";
constexpr std::string_view kLlama = "LlamaForCausalLM";

void import_deepseek_v3(const ConfigNode& json, CardDraft& d) {
  check_family_keys(json, {"q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                           "v_head_dim", "moe_intermediate_size", "n_routed_experts",
                           "n_shared_experts", "first_k_dense_replace", "moe_layer_freq", "n_group",
                           "topk_group", "topk_method", "scoring_func", "norm_topk_prob",
                           "routed_scaling_factor", "num_nextn_predict_layers"});
  const HfDefaults& def = kDeepseekV3Defaults;
  const std::string_view cls = def.config_class;
  const std::int64_t layers = read_trunk(json, d, json, cls);
  const Val act = silu_activation(json, cls);
  d.attn_kind = Val::inferred("mla", "DeepSeek-V3 multi-head latent attention");
  d.num_heads = int_val(json, "num_attention_heads");
  if (present(json, "q_lora_rank")) {
    d.q_lora_rank = int_val(json, "q_lora_rank");
  } else {
    d.q_lora_rank = Val::from(json.at("q_lora_rank"), "0");
  }
  d.kv_lora_rank = int_val(json, "kv_lora_rank");
  d.qk_nope_head_dim = int_val(json, "qk_nope_head_dim");
  d.qk_rope_head_dim = int_val(json, "qk_rope_head_dim");
  d.v_head_dim = int_val(json, "v_head_dim");
  d.kv_values = Val::derived(
      std::to_string(int_at(json, "kv_lora_rank", 1) + int_at(json, "qk_rope_head_dim", 1)),
      "kv_lora_rank + qk_rope_head_dim");
  if (bool_or(json, "attention_bias", false)) json.at("attention_bias").fail("false for MLA");
  d.attn_bias = attention_bias(json, def);
  d.qk_norm = Val::inferred("none", "MLA normalises its latents instead");
  d.sinks = Val::inferred("false", "no attention sinks");
  read_position(json, d, def);

  const std::int64_t first_dense = int_or(json, "first_k_dense_replace", 0, 3);
  const std::int64_t freq = int_or(json, "moe_layer_freq", 1, 1);
  LayerSet moe_layers(static_cast<std::size_t>(layers), false);
  for (std::int64_t i = first_dense; i < layers; ++i) {
    moe_layers[static_cast<std::size_t>(i)] = i % freq == 0;
  }
  if (first_dense > 0 || freq > 1) d.ffn = swiglu_ffn(int_val(json, "intermediate_size"), act);

  MoeDraft m;
  const std::string moe_text = detail::layer_set_text(moe_layers);
  m.layers = int_val_or(json, "first_k_dense_replace", 0, cls, first_dense);
  m.layers.text = moe_text;
  m.layers.note += present(json, "moe_layer_freq")
                       ? ", moe_layer_freq"
                       : "; " + Val::hf_default("", kDeepseekV3Modeling, "moe_layer_freq").note;
  m.num_experts = int_val(json, "n_routed_experts");
  m.experts_per_token = int_val(json, "num_experts_per_tok");
  m.expert = swiglu_ffn(int_val(json, "moe_intermediate_size"), act);
  const auto shared = present(json, "n_shared_experts");
  const std::int64_t n_shared = shared ? int_at(json, "n_shared_experts", 0) : 0;
  m.shared_experts = shared ? Val::from(*shared, std::to_string(n_shared))
                            : Val::from(json.at("n_shared_experts"), "0");
  if (n_shared > 0) {
    m.shared_intermediate_size =
        Val::inferred(std::to_string(int_at(json, "moe_intermediate_size", 1)),
                      "each shared expert has the routed width (one MLP of "
                      "n_shared_experts x moe_intermediate_size)");
  }
  if (const auto scoring = present(json, "scoring_func")) {
    m.router.scoring = Val::from(*scoring, scoring->as_choice({"sigmoid", "softmax"}));
  } else {
    m.router.scoring = Val::hf_default("sigmoid", kDeepseekV3Modeling, "scoring_func");
  }
  m.router.normalize_topk = bool_val_or(json, "norm_topk_prob", cls, true);
  if (const auto scale = present(json, "routed_scaling_factor")) {
    m.router.scaling_factor = Val::from(*scale, Val::number(scale->as_double()));
  } else {
    m.router.scaling_factor = Val::hf_default("2.5", cls, "routed_scaling_factor");
  }
  const auto method = present(json, "topk_method");
  const std::string how =
      method ? method->as_choice({"noaux_tc", "group_limited_greedy", "greedy"}) : "noaux_tc";
  if (how == "greedy") {
    m.router.n_group = Val::from(*method, "1");
    m.router.topk_group = Val::from(*method, "1");
  } else {
    m.router.n_group = int_val_or(json, "n_group", 1, cls, 8);
    m.router.topk_group = int_val_or(json, "topk_group", 1, cls, 4);
  }
  m.router.bias = Val::inferred("false", "router without bias");
  const std::string correction = how == "noaux_tc" ? "true" : "false";
  m.router.correction_bias = method
                                 ? Val::from(*method, correction)
                                 : Val::hf_default(correction, kDeepseekV3Modeling, "topk_method",
                                                   "noaux_tc: e_score_correction_bias");
  d.moe = std::move(m);
  d.mtp_layers = int_val_or(json, "num_nextn_predict_layers", 0, kDeepseekV3Modeling, 0);
  read_checkpoint(json, d);
}

void import_qwen3_moe(const ConfigNode& json, CardDraft& d) {
  check_family_keys(json, {"moe_intermediate_size", "num_experts", "decoder_sparse_step",
                           "mlp_only_layers", "norm_topk_prob", "use_sliding_window",
                           "sliding_window", "max_window_layers", "layer_types"});
  const HfDefaults& def = kQwen3MoeDefaults;
  const std::string_view cls = def.config_class;
  const std::int64_t layers = read_trunk(json, d, json, cls);
  const Val act = silu_activation(json, cls);
  read_gqa(json, d, def);
  d.attn_bias = attention_bias(json, def);
  d.qk_norm = Val::inferred("rms", "Qwen3 RMSNorm on each head's q and k");
  d.sinks = Val::inferred("false", "no attention sinks");
  if (const auto types = present(json, "layer_types")) {
    if (auto set = layer_types(*types, layers, "sliding_attention")) {
      d.local = detail::LocalDraft{Val::from(*types, "sliding"), int_val(json, "sliding_window"),
                                   Val::from(*types, detail::layer_set_text(*set))};
    }
  } else if (bool_or(json, "use_sliding_window", false)) {
    const std::int64_t from = int_at(json, "max_window_layers", 0);
    LayerSet set(static_cast<std::size_t>(layers), false);
    for (std::int64_t i = from; i < layers; ++i) set[static_cast<std::size_t>(i)] = true;
    if (from < layers) {
      d.local = detail::LocalDraft{
          Val::from(json.at("use_sliding_window"), "sliding"), int_val(json, "sliding_window"),
          Val::from(json.at("max_window_layers"), detail::layer_set_text(set))};
    }
  }
  read_position(json, d, def);

  const std::int64_t step = int_or(json, "decoder_sparse_step", 1, 1);
  LayerSet moe_layers(static_cast<std::size_t>(layers), false);
  for (std::int64_t i = 0; i < layers; ++i)
    moe_layers[static_cast<std::size_t>(i)] = (i + 1) % step == 0;
  const auto dense_list = present(json, "mlp_only_layers");
  if (dense_list) {
    for (const ConfigNode& item : dense_list->items()) {
      const std::int64_t i = item.as_int();
      if (i < 0 || i >= layers) item.fail("a layer index below num_hidden_layers");
      moe_layers[static_cast<std::size_t>(i)] = false;
    }
  }
  const bool any_dense = std::find(moe_layers.begin(), moe_layers.end(), false) != moe_layers.end();
  if (any_dense) d.ffn = swiglu_ffn(int_val(json, "intermediate_size"), act);

  MoeDraft m;
  m.layers = int_val_or(json, "decoder_sparse_step", 1, cls, 1);
  m.layers.text = detail::layer_set_text(moe_layers);
  m.layers.note += dense_list ? ", mlp_only_layers"
                              : "; " + Val::hf_default("", cls, "mlp_only_layers", "[]").note;
  m.num_experts = int_val(json, "num_experts");
  m.experts_per_token = int_val(json, "num_experts_per_tok");
  m.expert = swiglu_ffn(int_val(json, "moe_intermediate_size"), act);
  no_shared_experts(m, "Qwen3-MoE has no shared experts");
  plain_router(m, "softmax", "Qwen3-MoE softmax over all experts, then top-k",
               bool_val_or(json, "norm_topk_prob", cls, false));
  d.moe = std::move(m);
  d.mtp_layers = Val::inferred("0", "no MTP module");
  read_checkpoint(json, d);
}

void import_mixtral(const ConfigNode& json, CardDraft& d) {
  check_family_keys(json, {"num_local_experts", "sliding_window"});
  const HfDefaults& def = kMixtralDefaults;
  const std::string_view cls = def.config_class;
  const std::int64_t layers = read_trunk(json, d, json, cls);
  const Val act = silu_activation(json, cls);
  read_gqa(json, d, def);
  d.attn_bias = Val::inferred("none", "Mixtral attention has no biases");
  d.qk_norm = Val::inferred("none", "no q/k norm");
  d.sinks = Val::inferred("false", "no attention sinks");
  if (const auto window = present(json, "sliding_window")) {
    d.local = detail::LocalDraft{Val::from(*window, "sliding"), int_val(json, "sliding_window"),
                                 Val::from(*window, "all")};
  }
  read_position(json, d, def);
  MoeDraft m;
  m.layers = Val::inferred(detail::layer_set_text(LayerSet(static_cast<std::size_t>(layers), true)),
                           "every Mixtral layer is sparse");
  m.num_experts = int_val(json, "num_local_experts");
  m.experts_per_token = int_val(json, "num_experts_per_tok");
  m.expert = swiglu_ffn(int_val(json, "intermediate_size"), act);
  no_shared_experts(m, "Mixtral has no shared experts");
  plain_router(m, "softmax", "Mixtral softmax over all experts, then top-k",
               Val::inferred("true", "Mixtral renormalises the top-k weights"));
  d.moe = std::move(m);
  d.mtp_layers = Val::inferred("0", "no MTP module");
  read_checkpoint(json, d);
}

void import_gpt_oss(const ConfigNode& json, CardDraft& d) {
  check_family_keys(json, {"num_local_experts", "experts_per_token", "layer_types",
                           "sliding_window", "swiglu_limit"});
  const HfDefaults& def = kGptOssDefaults;
  const std::string_view cls = def.config_class;
  const std::int64_t layers = read_trunk(json, d, json, cls);
  silu_activation(json, cls);  // validates hidden_act; the experts' activation is clamped
  read_gqa(json, d, def);
  d.attn_bias = attention_bias(json, def);
  d.qk_norm = Val::inferred("none", "no q/k norm");
  d.sinks = Val::inferred("true", "gpt-oss learned sink logit per head in every layer");
  const Val window = int_val_or(json, "sliding_window", 1, cls, 128);
  if (const auto types = present(json, "layer_types")) {
    if (auto set = layer_types(*types, layers, "sliding_attention")) {
      d.local = detail::LocalDraft{Val::from(*types, "sliding"), window,
                                   Val::from(*types, detail::layer_set_text(*set))};
    }
  } else {
    // GptOssConfig.__post_init__: layer i slides when (i + 1) % 2 != 0, i.e. the even layers.
    LayerSet set(static_cast<std::size_t>(layers), false);
    for (std::size_t i = 0; i < set.size(); i += 2) set[i] = true;
    const std::string how = "sliding on even layers";
    d.local =
        detail::LocalDraft{Val::hf_default("sliding", cls, "layer_types", how), window,
                           Val::hf_default(detail::layer_set_text(set), cls, "layer_types", how)};
  }
  read_position(json, d, def);
  MoeDraft m;
  m.layers = Val::inferred(detail::layer_set_text(LayerSet(static_cast<std::size_t>(layers), true)),
                           "every gpt-oss block is MoE");
  m.num_experts = int_val(json, "num_local_experts");
  const std::int64_t k = int_at(json, "num_experts_per_tok", 1);
  if (json.has("experts_per_token") && int_at(json, "experts_per_token", 1) != k) {
    json.at("experts_per_token")
        .fail("the value of num_experts_per_tok (" + std::to_string(k) + ")");
  }
  m.experts_per_token = int_val(json, "num_experts_per_tok");
  m.expert.intermediate_size = int_val(json, "intermediate_size");
  m.expert.activation = Val::inferred("clamped_swiglu", "gpt-oss (g * sigmoid(1.702 g)) * (u + 1)");
  if (const auto limit = present(json, "swiglu_limit")) {
    m.expert.swiglu_limit = Val::from(*limit, Val::number(limit->as_double()));
  } else {
    m.expert.swiglu_limit = Val::hf_default("7", cls, "swiglu_limit");
  }
  m.expert.bias = Val::inferred("true", "gpt-oss expert biases mlp1_bias, mlp2_bias");
  no_shared_experts(m, "gpt-oss has no shared experts");
  plain_router(m, "topk_softmax", "gpt-oss softmax over the top-k logits only",
               Val::inferred("false", "the top-k softmax already sums to 1"));
  m.router.bias = Val::inferred("true", "gpt-oss router Linear has a bias");
  d.moe = std::move(m);
  d.mtp_layers = Val::inferred("0", "no MTP module");
  read_checkpoint(json, d);
}

void import_llama4(const ConfigNode& json, CardDraft& d) {
  json.check_keys({"architectures", "model_type", "text_config", "vision_config", "boi_token_index",
                   "eoi_token_index", "image_token_index", "torch_dtype", "transformers_version",
                   "tie_word_embeddings", "quantization_config", "_name_or_path"});
  const ConfigNode text = json.at("text_config");
  check_family_keys(
      text, {"attention_chunk_size", "intermediate_size_mlp", "interleave_moe_layer_step",
             "moe_layers", "num_local_experts", "no_rope_layers", "no_rope_layer_interval",
             "use_qk_norm", "attn_temperature_tuning", "floor_scale", "attn_scale", "layer_types"});
  d.notes.push_back("Text model only: the vision encoder (vision_config) is not described.");
  const HfDefaults& def = kLlama4TextDefaults;
  const std::string_view cls = def.config_class;
  const std::int64_t layers = read_trunk(text, d, json, "Llama4Config");
  const Val act = silu_activation(text, cls);
  read_gqa(text, d, def);
  d.attn_bias = attention_bias(text, def);
  if (const auto qk = present(text, "use_qk_norm"); qk && !qk->as_bool()) {
    d.qk_norm = Val::from(*qk, "none");
  } else {
    d.qk_norm = Val::inferred("l2", "Llama-4 use_qk_norm is a weightless L2 norm");
    if (!qk) d.qk_norm.note += "; " + Val::hf_default("", cls, "use_qk_norm", "true").note;
  }
  d.sinks = Val::inferred("false", "no attention sinks");

  LayerSet nope(static_cast<std::size_t>(layers), false);
  Val nope_note;
  const auto nope_list = present(text, "no_rope_layers");
  if (nope_list && !nope_list->is_sequence())
    nope_list->fail("a list with one 0 (NoPE) or 1 (RoPE) per layer");
  if (nope_list && nope_list->size() > 0) {
    if (nope_list->size() != nope.size()) nope_list->fail("one entry per layer");
    for (std::size_t i = 0; i < nope.size(); ++i) nope[i] = (*nope_list)[i].as_int() == 0;
    nope_note = Val::from(*nope_list, "");
  } else {
    // Llama4TextConfig.__post_init__: an absent or empty no_rope_layers makes every
    // no_rope_layer_interval-th layer NoPE.
    std::int64_t interval = 4;
    if (const auto n = present(text, "no_rope_layer_interval")) {
      interval = int_at(text, "no_rope_layer_interval", 1);
      nope_note = Val::from(*n, "");
    } else {
      nope_note = Val::hf_default("", cls, "no_rope_layer_interval", "4");
    }
    if (nope_list) {
      nope_note.note += "; config.json no_rope_layers empty";
    } else {
      nope_note.note += "; no_rope_layers absent";
    }
    for (std::int64_t i = 0; i < layers; ++i) {
      nope[static_cast<std::size_t>(i)] = (i + 1) % interval == 0;
    }
  }
  nope_note.text = detail::layer_set_text(nope);
  d.nope_layers = nope_note;
  // attention_chunk_size: absent is the class default 8192; null turns chunking off.
  if (!text.has("attention_chunk_size") || present(text, "attention_chunk_size")) {
    LayerSet chunked = nope;
    chunked.flip();
    if (const auto types = present(text, "layer_types")) {
      chunked = layer_types(*types, layers, "chunked_attention").value_or(LayerSet(nope.size()));
    }
    d.local = detail::LocalDraft{
        Val::inferred("chunked", "Llama-4 chunked attention on RoPE layers"),
        int_val_or(text, "attention_chunk_size", 1, cls, 8192),
        Val::inferred(detail::layer_set_text(chunked), "chunked layers = RoPE layers")};
  }
  read_position(text, d, def);

  LayerSet moe_layers(static_cast<std::size_t>(layers), false);
  Val moe_val;
  if (const auto list = present(text, "moe_layers")) {
    for (const ConfigNode& item : list->items()) {
      const std::int64_t i = item.as_int();
      if (i < 0 || i >= layers) item.fail("a layer index below num_hidden_layers");
      moe_layers[static_cast<std::size_t>(i)] = true;
    }
    moe_val = Val::from(*list, "");
  } else {
    const std::int64_t step = int_or(text, "interleave_moe_layer_step", 1, 1);
    for (std::int64_t i = step - 1; i < layers; i += step)
      moe_layers[static_cast<std::size_t>(i)] = true;
    moe_val = int_val_or(text, "interleave_moe_layer_step", 1, cls, 1);
  }
  moe_val.text = detail::layer_set_text(moe_layers);
  if (std::find(moe_layers.begin(), moe_layers.end(), false) != moe_layers.end()) {
    d.ffn = swiglu_ffn(int_val(text, "intermediate_size_mlp"), act);
  }
  MoeDraft m;
  m.layers = moe_val;
  m.num_experts = int_val(text, "num_local_experts");
  m.experts_per_token = int_val(text, "num_experts_per_tok");
  m.expert = swiglu_ffn(int_val(text, "intermediate_size"), act);
  m.shared_experts = Val::inferred("1", "Llama-4 MoE layers have one shared expert");
  m.shared_intermediate_size = Val::inferred(std::to_string(int_at(text, "intermediate_size", 1)),
                                             "the shared expert has the routed width");
  plain_router(m, "topk_sigmoid", "Llama-4 top-k logits, then sigmoid",
               Val::inferred("false", "sigmoid scores are not renormalised"));
  d.moe = std::move(m);
  d.mtp_layers = Val::inferred("0", "no MTP module");
  read_checkpoint(json, d);
}

void import_llama(const ConfigNode& json, CardDraft& d) {
  check_family_keys(json, {"mlp_bias"});
  const HfDefaults& def = kLlamaDefaults;
  const std::string_view cls = def.config_class;
  read_trunk(json, d, json, cls);
  const Val act = silu_activation(json, cls);
  read_gqa(json, d, def);
  d.attn_bias = attention_bias(json, def);
  d.qk_norm = Val::inferred("none", "no q/k norm");
  d.sinks = Val::inferred("false", "no attention sinks");
  read_position(json, d, def);
  FfnDraft f = swiglu_ffn(int_val(json, "intermediate_size"), act);
  f.bias = bool_val_or(json, "mlp_bias", cls, false);
  d.ffn = std::move(f);
  d.mtp_layers = Val::inferred("0", "no MTP module");
  read_checkpoint(json, d);
}

/// Parses `card` as the model loader does, so that no card is written that moesim then rejects
/// (topk_group > n_group, a rope scaling factor of 0, ...). A rejection is a ConfigError in the
/// config.json file: the card's key path, what the loader expected, and the generated line, whose
/// comment names the config.json key it came from.
void check_card_loads(const ConfigNode& json, const std::string& card) {
  try {
    (void)parse_model(ConfigNode::parse(card, "<generated card>"));
  } catch (const ConfigError& e) {
    std::string line;
    std::istringstream lines(card);
    for (int i = 0; i < e.where().line; ++i) std::getline(lines, line);
    const std::size_t start = line.find_first_not_of(' ');
    line = start == std::string::npos ? std::string{} : line.substr(start);
    throw ConfigError({json.location().file, 0, 0}, e.key_path(),
                      e.expected() + " (the card imported from this config does not load)",
                      e.found() + (line.empty() ? "" : " in generated line `" + line + "`"),
                      e.suggestion());
  }
}

}  // namespace

std::vector<std::string_view> supported_hf_architectures() {
  return {kDeepseekV3, kQwen3Moe, kMixtral, kGptOss, kLlama4, kLlama};
}

std::string import_hf_config(const ConfigNode& json) {
  if (!json.is_map()) json.fail("a config.json object");
  const ConfigNode arch_list = json.at("architectures");
  if (!arch_list.is_sequence() || arch_list.size() != 1)
    arch_list.fail("a list of one architecture");
  const ConfigNode arch = arch_list[0];
  const std::vector<std::string_view> supported = supported_hf_architectures();
  const std::string name = arch.as_choice(std::span<const std::string_view>(supported));
  CardDraft d;
  d.architecture = name;
  read_header(json, d);
  if (name == kDeepseekV3) import_deepseek_v3(json, d);
  if (name == kQwen3Moe) import_qwen3_moe(json, d);
  if (name == kMixtral) import_mixtral(json, d);
  if (name == kGptOss) import_gpt_oss(json, d);
  if (name == kLlama4) import_llama4(json, d);
  if (name == kLlama) import_llama(json, d);
  std::string card = detail::render_card(d);
  check_card_loads(json, card);
  return card;
}

}  // namespace moesim::llm
