#include "sim/llm/hf_import.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/param_count.hpp"
#include "test_util.hpp"

namespace moesim::llm {
namespace {

config::ConfigNode fixture(std::string_view model) {
  return config::ConfigNode::load_file(std::filesystem::path(MOESIM_TEST_DATA_DIR) / "models" /
                                       (std::string(model) + ".json"));
}

ModelSpec import_and_parse(std::string_view model) {
  const std::string card = import_hf_config(fixture(model));
  return parse_model(config::ConfigNode::parse(card, std::string(model) + " (imported)"));
}

/// The ConfigError that importing `json_text` throws.
ConfigError import_error(std::string_view json_text) {
  try {
    import_hf_config(config::ConfigNode::parse(json_text, "config.json"));
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("the config imported, but an error was expected");
  return ConfigError({}, {}, {}, {});
}

TEST_CASE("importing each shipped config.json reproduces the shipped card's counts") {
  // Round trip: fixture config.json -> card text -> ConfigNode::parse -> ModelSpec, against the
  // hand-written models/<name>.yaml. Same shapes give the same counts to the parameter; the
  // layer layout, KV size and checkpoint formats must agree too.
  const config::Catalog catalog(MOESIM_SOURCE_DIR);
  for (const std::string& name : catalog.names("models")) {
    CAPTURE(name);
    const ModelSpec want = load_model(catalog, name);
    const ModelSpec got = import_and_parse(name);
    const ParamCounts a = count_parameters(want);
    const ParamCounts b = count_parameters(got);
    CHECK(b.total == a.total);
    CHECK(b.active == a.active);
    CHECK(b.active_with_embedding == a.active_with_embedding);
    CHECK(b.mtp_total == a.mtp_total);
    CHECK(b.total_by_class == a.total_by_class);
    CHECK(b.active_by_class == a.active_by_class);
    CHECK(kv_values_per_token(got) == kv_values_per_token(want));
    REQUIRE(got.layers.size() == want.layers.size());
    for (std::size_t i = 0; i < got.layers.size(); ++i) {
      CAPTURE(i);
      CHECK(got.layers[i].moe == want.layers[i].moe);
      CHECK(got.layers[i].span == want.layers[i].span);
      CHECK(got.layers[i].window == want.layers[i].window);
      CHECK(got.layers[i].rope == want.layers[i].rope);
    }
    CHECK(got.checkpoint.formats == want.checkpoint.formats);
    CHECK(weight_bytes(got, got.checkpoint).total == weight_bytes(want, want.checkpoint).total);
  }
}

TEST_CASE("facts the config omits are marked as inferred from the architecture family") {
  const std::string qwen = import_hf_config(fixture("qwen3-235b-a22b"));
  CHECK(qwen.find("qk_norm: rms  # inferred from architecture family") != std::string::npos);
  CHECK(qwen.find("shared_experts: 0  # inferred from architecture family") != std::string::npos);
  const std::string oss = import_hf_config(fixture("gpt-oss-120b"));
  CHECK(oss.find("sinks: true  # inferred from architecture family") != std::string::npos);
  CHECK(oss.find("routed_experts: mxfp4  # inferred from architecture family") !=
        std::string::npos);
  // Values the config states name their key.
  const std::string ds = import_hf_config(fixture("deepseek-r1"));
  CHECK(ds.find("kv_lora_rank: 512  # config.json kv_lora_rank") != std::string::npos);
  CHECK(ds.find("layers: {from: 3}  # config.json first_k_dense_replace") != std::string::npos);
  // Llama-4: read from text_config, layer patterns in their compact form.
  const std::string l4 = import_hf_config(fixture("llama-4-maverick"));
  CHECK(l4.find("hidden_size: 5120  # config.json text_config.hidden_size") != std::string::npos);
  CHECK(l4.find("layers: {all_except: {every: 4, offset: 3}}") != std::string::npos);
  CHECK(l4.find("layers: {every: 2, offset: 1}") != std::string::npos);
}

TEST_CASE("Mixtral's missing head_dim is derived from the hidden size") {
  const std::string card = import_hf_config(fixture("mixtral-8x7b"));
  // 4096 / 32 heads = 128, as MixtralConfig resolves head_dim None.
  CHECK(card.find("head_dim: 128  # transformers default (MixtralConfig): head_dim absent, "
                  "hidden_size / num_attention_heads") != std::string::npos);
}

TEST_CASE("an unknown architecture is an error listing the supported ones") {
  const ConfigError e = import_error(R"({"architectures": ["MistralForCausalLM"]})");
  CHECK(e.key_path() == "architectures[0]");
  for (std::string_view arch : supported_hf_architectures()) {
    CHECK(e.expected().find(arch) != std::string::npos);
  }
}

TEST_CASE("a config key the importer does not know is an error, not silently dropped") {
  std::string text = R"({"architectures": ["MixtralForCausalLM"], "model_type": "mixtral",
                         "num_local_experts": 8,
                         "sliding_windw": 4096})";
  const ConfigError e = import_error(text);
  CHECK(e.key_path() == "sliding_windw");
  CHECK(e.suggestion() == "sliding_window");
}

TEST_CASE("an FP8 layout other than 128x128 blocks is rejected") {
  std::string json =
      R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
      "vocab_size": 100, "num_hidden_layers": 2, "num_attention_heads": 4,
      "num_key_value_heads": 2, "intermediate_size": 128, "attention_bias": false,
      "hidden_act": "silu", "rope_theta": 10000, "max_position_embeddings": 4096,
      "quantization_config": {"quant_method": "fp8", "weight_block_size": [64, 64]}})";
  const ConfigError e = import_error(json);
  CHECK(e.key_path() == "quantization_config.weight_block_size");
}

TEST_CASE("a config whose card the model loader would reject is an error naming the field") {
  // DeepSeek-R1's config with topk_group 16 > n_group 8: a token may not choose more expert
  // groups than there are, so parse_model() rejects the card; the import must not write it.
  std::ifstream file(std::filesystem::path(MOESIM_TEST_DATA_DIR) / "models" / "deepseek-r1.json");
  std::stringstream text;
  text << file.rdbuf();
  std::string json = text.str();
  const std::string from = "\"topk_group\": 4,";
  REQUIRE(json.find(from) != std::string::npos);
  json.replace(json.find(from), from.size(), "\"topk_group\": 16,");
  const ConfigError e = import_error(json);
  CHECK(e.key_path() == "moe.router.topk_group");
  CHECK(e.where().file == "config.json");
  // The generated line names the config.json key it came from.
  CHECK(e.found().find("config.json topk_group") != std::string::npos);
}

TEST_CASE("a small Llama config imports to a card that parses") {
  std::string json =
      R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
      "vocab_size": 100, "num_hidden_layers": 2, "num_attention_heads": 4,
      "intermediate_size": 128, "attention_bias": false, "hidden_act": "silu",
      "rope_theta": 10000, "max_position_embeddings": 4096, "tie_word_embeddings": true})";
  const std::string card = import_hf_config(config::ConfigNode::parse(json, "config.json"));
  const ModelSpec m = parse_model(config::ConfigNode::parse(card, "imported"));
  // No num_key_value_heads: one KV head per query head, i.e. MHA; head_dim 64 / 4 = 16.
  CHECK(m.attention.kind == AttentionKind::kMha);
  CHECK(m.attention.head_dim == 16);
  CHECK(m.tie_word_embeddings);
  CHECK_FALSE(m.is_moe());
}

// ---- Real Hugging Face config.json files (tests/data/models/hf/README.md gives each one's
// source). Published configs leave out the keys whose transformers default applies; the import
// fills them from the family's configuration class and marks each in the card. ----

std::string hf_text(std::string_view model) {
  return test::read_file(std::filesystem::path(MOESIM_TEST_DATA_DIR) / "models" / "hf" /
                         (std::string(model) + ".json"));
}

/// The card of config.json text `json`, with the ModelSpec it parses to.
struct Imported {
  std::string card;
  ModelSpec spec;
};

Imported import_text(const std::string& json, std::string_view label) {
  Imported r;
  r.card = import_hf_config(config::ConfigNode::parse(json, std::string(label)));
  r.spec = parse_model(config::ConfigNode::parse(r.card, std::string(label) + " (imported)"));
  return r;
}

Imported import_hf(std::string_view model) { return import_text(hf_text(model), model); }

bool has_line(const std::string& card, std::string_view line) {
  return card.find(line) != std::string::npos;
}

TEST_CASE("Llama-2-70B's published config, without attention_bias or rope_theta, imports") {
  // meta-llama/Llama-2-70b-hf predates attention_bias, mlp_bias, rope_theta and head_dim.
  const Imported m = import_hf("llama-2-70b-hf");
  CHECK(m.spec.num_layers() == 80);
  CHECK(m.spec.attention.kind == AttentionKind::kGqa);
  CHECK(m.spec.attention.num_heads == 64);
  CHECK(m.spec.attention.num_kv_heads == 8);
  CHECK(m.spec.attention.head_dim == 128);  // 8192 / 64 heads
  CHECK(m.spec.attention.bias == AttentionBias::kNone);
  CHECK(m.spec.position.rope_theta == 10000.0);
  CHECK(m.spec.position.max_position_embeddings == 4096);
  CHECK_FALSE(m.spec.is_moe());
  CHECK_FALSE(m.spec.dense_ffn->bias);
  // Per layer: q and o 8192 x 8192, k and v 8192 x 1024, gate/up/down 3 x 8192 x 28672, two
  // norms of 8192 = 855,654,400; x 80 layers, plus untied embedding and head 2 x 32000 x 8192 and
  // the final norm: 68,976,648,192, the count published for Llama-2-70B.
  CHECK(count_parameters(m.spec).total == 68'976'648'192);
  CHECK(
      has_line(m.card, "bias: none  # transformers default (LlamaConfig): attention_bias absent"));
  CHECK(has_line(m.card, "bias: false  # transformers default (LlamaConfig): mlp_bias absent"));
  CHECK(has_line(m.card,
                 "rope_theta: 10000  # transformers default (LlamaConfig): rope_theta "
                 "absent"));
  CHECK(has_line(m.card,
                 "head_dim: 128  # transformers default (LlamaConfig): head_dim absent, "
                 "hidden_size / num_attention_heads"));
  CHECK(has_line(m.card, "num_kv_heads: 8  # config.json num_key_value_heads"));
  CHECK(has_line(m.card, "scaling: none  # config.json rope_scaling null"));
  CHECK(has_line(m.card, "default: fp16  # config.json torch_dtype"));
}

TEST_CASE("Llama-2-7B's published config imports as MHA with the same defaults") {
  const Imported m = import_hf("llama-2-7b-hf");
  CHECK(m.spec.num_layers() == 32);
  CHECK(m.spec.attention.kind == AttentionKind::kMha);  // 32 KV heads for 32 query heads
  CHECK(m.spec.attention.head_dim == 128);              // 4096 / 32
  // 32 x (4 x 4096^2 + 3 x 4096 x 11008 + 2 x 4096) + 2 x 32000 x 4096 + 4096 = 6,738,415,616,
  // the count published for Llama-2-7B.
  CHECK(count_parameters(m.spec).total == 6'738'415'616);
  CHECK(has_line(m.card, "# transformers default (LlamaConfig): attention_bias absent"));
  CHECK(has_line(m.card, "# transformers default (LlamaConfig): rope_theta absent"));
}

TEST_CASE("Llama-3.1-8B imports with llama3 RoPE scaling and a head_dim from the hidden size") {
  const Imported m = import_hf("llama-3.1-8b");
  CHECK(m.spec.num_layers() == 32);
  CHECK(m.spec.attention.num_heads == 32);
  CHECK(m.spec.attention.num_kv_heads == 8);
  CHECK(m.spec.attention.head_dim == 128);  // 4096 / 32, head_dim absent
  CHECK(m.spec.position.rope_theta == 500000.0);
  CHECK(m.spec.position.scaling_type == "llama3");
  CHECK(m.spec.position.scaling_factor == 8.0);
  CHECK(m.spec.position.original_max_position_embeddings == 8192);
  // 32 x (2 x 4096^2 + 2 x 4096 x 1024 + 3 x 4096 x 14336 + 2 x 4096) + 2 x 128256 x 4096 + 4096
  // = 8,030,261,248, the count published for Llama-3.1-8B.
  CHECK(count_parameters(m.spec).total == 8'030'261'248);
  CHECK(has_line(m.card, "head_dim: 128  # transformers default (LlamaConfig): head_dim absent"));
  CHECK(has_line(m.card, "bias: none  # config.json attention_bias"));
}

TEST_CASE("Mixtral-8x22B imports with eight experts, two per token") {
  const Imported m = import_hf("mixtral-8x22b");
  CHECK(m.spec.num_layers() == 56);
  CHECK(m.spec.num_moe_layers() == 56);
  CHECK(m.spec.attention.num_heads == 48);
  CHECK(m.spec.attention.num_kv_heads == 8);
  CHECK(m.spec.attention.head_dim == 128);  // 6144 / 48
  CHECK(m.spec.moe->num_experts == 8);
  CHECK(m.spec.moe->experts_per_token == 2);
  CHECK(m.spec.moe->expert.intermediate_size == 16384);
  CHECK(m.spec.position.rope_theta == 1000000.0);
  CHECK(has_line(m.card, "# transformers default (MixtralConfig): head_dim absent"));
}

TEST_CASE("Qwen3-30B-A3B imports with 128 experts, 8 per token, renormalised") {
  const Imported m = import_hf("qwen3-30b-a3b");
  CHECK(m.spec.num_layers() == 48);
  CHECK(m.spec.num_moe_layers() == 48);
  CHECK(m.spec.attention.num_heads == 32);
  CHECK(m.spec.attention.num_kv_heads == 4);
  CHECK(m.spec.attention.head_dim == 128);
  CHECK(m.spec.attention.qk_norm == QkNorm::kRms);
  CHECK(m.spec.moe->num_experts == 128);
  CHECK(m.spec.moe->experts_per_token == 8);
  CHECK(m.spec.moe->expert.intermediate_size == 768);
  CHECK(m.spec.moe->router.normalize_topk);
  CHECK(m.spec.layers[0].span == AttentionSpan::kFull);  // use_sliding_window false
}

TEST_CASE("DeepSeek-V3 imports with MLA, three dense layers and one MTP module") {
  const Imported m = import_hf("deepseek-v3");
  CHECK(m.spec.num_layers() == 61);
  CHECK(m.spec.num_moe_layers() == 58);  // first_k_dense_replace 3
  CHECK(m.spec.attention.kind == AttentionKind::kMla);
  CHECK(m.spec.attention.num_heads == 128);
  CHECK(m.spec.attention.kv_lora_rank == 512);
  CHECK(m.spec.moe->num_experts == 256);
  CHECK(m.spec.moe->experts_per_token == 8);
  CHECK(m.spec.moe->num_shared_experts == 1);
  CHECK(m.spec.moe->router.scoring == RouterScoring::kSigmoid);
  CHECK(m.spec.moe->router.correction_bias);
  CHECK(m.spec.mtp_layers == 1);
  // DeepSeek-R1 has DeepSeek-V3's architecture: the same counts as the shipped R1 card.
  const ModelSpec r1 = import_and_parse("deepseek-r1");
  CHECK(count_parameters(m.spec).total == count_parameters(r1).total);
  CHECK(count_parameters(m.spec).active == count_parameters(r1).active);
}

TEST_CASE("Kimi-K2 imports as DeepSeek-V3 architecture with 384 experts and one dense layer") {
  // tests/data/models/kimi-k2.json, moonshotai/Kimi-K2-Instruct (models/README.md, "Sources").
  const ModelSpec m = import_and_parse("kimi-k2");
  CHECK(m.num_layers() == 61);
  CHECK(m.num_moe_layers() == 60);  // first_k_dense_replace 1
  CHECK(m.attention.kind == AttentionKind::kMla);
  CHECK(m.attention.num_heads == 64);
  CHECK(m.moe->num_experts == 384);
  CHECK(m.moe->experts_per_token == 8);
  CHECK(m.moe->router.n_group == 1);
  CHECK(m.moe->router.scaling_factor == 2.827);
  CHECK(m.mtp_layers == 0);
}

TEST_CASE("gpt-oss-20b imports with 32 experts and sliding attention on even layers") {
  const Imported m = import_hf("gpt-oss-20b");
  CHECK(m.spec.num_layers() == 24);
  CHECK(m.spec.attention.num_heads == 64);
  CHECK(m.spec.attention.num_kv_heads == 8);
  CHECK(m.spec.attention.head_dim == 64);
  CHECK(m.spec.moe->num_experts == 32);
  CHECK(m.spec.moe->experts_per_token == 4);
  CHECK(m.spec.layers[0].span == AttentionSpan::kSliding);
  CHECK(m.spec.layers[0].window == 128);
  CHECK(m.spec.layers[1].span == AttentionSpan::kFull);
  CHECK(m.spec.checkpoint.of(TensorClass::kRoutedExperts) == WeightFormat::kMXFP4);
}

TEST_CASE("Llama-4-Scout imports with 16 experts in every layer and NoPE every fourth layer") {
  const Imported m = import_hf("llama-4-scout");
  CHECK(m.spec.num_layers() == 48);
  CHECK(m.spec.num_moe_layers() == 48);  // interleave_moe_layer_step 1
  CHECK(m.spec.attention.num_heads == 40);
  CHECK(m.spec.attention.num_kv_heads == 8);
  CHECK(m.spec.attention.head_dim == 128);
  CHECK(m.spec.moe->num_experts == 16);
  CHECK(m.spec.moe->experts_per_token == 1);
  CHECK(m.spec.moe->num_shared_experts == 1);
  // Llama4TextConfig: with no no_rope_layers, layers 3, 7, ... (every 4th) have no RoPE; the
  // others attend in chunks of attention_chunk_size.
  CHECK_FALSE(m.spec.layers[3].rope);
  CHECK(m.spec.layers[3].span == AttentionSpan::kFull);
  CHECK(m.spec.layers[0].rope);
  CHECK(m.spec.layers[0].span == AttentionSpan::kChunked);
  CHECK(m.spec.layers[0].window == 8192);
  CHECK(m.spec.position.scaling_type == "llama3");
  CHECK(m.spec.position.scaling_factor == 16.0);
  CHECK(has_line(m.card,
                 "# transformers default (Llama4TextConfig): no_rope_layer_interval "
                 "absent, 4; no_rope_layers absent"));
  CHECK(has_line(m.card,
                 "tie_word_embeddings: false  # transformers default (Llama4Config): "
                 "tie_word_embeddings absent"));
}

/// `json` without `"key": value` (the first occurrence; the value may be a list or an object).
std::string without_key(std::string json, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\":";
  const std::size_t start = json.find(quoted);
  REQUIRE(start != std::string::npos);
  std::size_t end = start + quoted.size();
  int depth = 0;
  for (; end < json.size(); ++end) {
    const char c = json[end];
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') {
      if (depth == 0) break;  // the end of the enclosing object: `key` was its last member
      --depth;
    }
    if (depth == 0 && c == ',') break;
  }
  if (end < json.size() && json[end] == ',') return json.erase(start, end + 1 - start);
  // The last member: drop the comma before it instead.
  const std::size_t comma = json.rfind(',', start);
  return json.erase(comma, end - comma);
}

TEST_CASE(
    "leaving out a key whose value is the transformers default changes nothing but the note") {
  // Each case: a published config, a key it states with the value its configuration class
  // defaults to, and that class. Without the key the card must describe the same model.
  struct Case {
    std::string_view model, key, config_class;
  };
  const Case cases[] = {
      {"llama-3.1-8b", "attention_bias", "LlamaConfig"},
      {"llama-3.1-8b", "mlp_bias", "LlamaConfig"},
      {"llama-3.1-8b", "tie_word_embeddings", "LlamaConfig"},
      {"llama-3.1-8b", "hidden_act", "LlamaConfig"},
      {"mixtral-8x22b", "num_key_value_heads", "MixtralConfig"},
      {"mixtral-8x22b", "rope_theta", "MixtralConfig"},
      {"qwen3-30b-a3b", "attention_bias", "Qwen3MoeConfig"},
      {"qwen3-30b-a3b", "decoder_sparse_step", "Qwen3MoeConfig"},
      {"qwen3-30b-a3b", "num_key_value_heads", "Qwen3MoeConfig"},
      {"deepseek-v3", "attention_bias", "DeepseekV3Config"},
      {"deepseek-v3", "first_k_dense_replace", "DeepseekV3Config"},
      {"deepseek-v3", "n_group", "DeepseekV3Config"},
      {"deepseek-v3", "topk_group", "DeepseekV3Config"},
      {"deepseek-v3", "norm_topk_prob", "DeepseekV3Config"},
      {"deepseek-v3", "routed_scaling_factor", "DeepseekV3Config"},
      {"deepseek-v3", "rope_theta", "DeepseekV3Config"},
      {"deepseek-v3", "scoring_func", "modeling_deepseek_v3.py"},
      {"deepseek-v3", "topk_method", "modeling_deepseek_v3.py"},
      {"deepseek-v3", "moe_layer_freq", "modeling_deepseek_v3.py"},
      {"gpt-oss-20b", "attention_bias", "GptOssConfig"},
      {"gpt-oss-20b", "head_dim", "GptOssConfig"},
      {"gpt-oss-20b", "num_key_value_heads", "GptOssConfig"},
      {"gpt-oss-20b", "layer_types", "GptOssConfig"},
      {"gpt-oss-20b", "sliding_window", "GptOssConfig"},
      {"gpt-oss-20b", "swiglu_limit", "GptOssConfig"},
      {"gpt-oss-20b", "rope_scaling", "GptOssConfig"},
      {"gpt-oss-20b", "max_position_embeddings", "GptOssConfig"},
      {"llama-4-scout", "attention_chunk_size", "Llama4TextConfig"},
      {"llama-4-scout", "interleave_moe_layer_step", "Llama4TextConfig"},
      {"llama-4-scout", "use_qk_norm", "Llama4TextConfig"},
      {"llama-4-scout", "head_dim", "Llama4TextConfig"},
      {"llama-4-scout", "num_key_value_heads", "Llama4TextConfig"},
      {"llama-4-scout", "attention_bias", "Llama4TextConfig"},
      {"llama-4-scout", "rope_theta", "Llama4TextConfig"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.model);
    CAPTURE(c.key);
    const std::string json = hf_text(c.model);
    const Imported want = import_text(json, c.model);
    const Imported got = import_text(without_key(json, c.key), c.model);
    CHECK(has_line(got.card, "transformers default (" + std::string(c.config_class) +
                                 "): " + std::string(c.key) + " absent"));
    CHECK_FALSE(has_line(want.card, "transformers default (" + std::string(c.config_class) +
                                        "): " + std::string(c.key) + " absent"));
    const ParamCounts a = count_parameters(want.spec);
    const ParamCounts b = count_parameters(got.spec);
    CHECK(b.total == a.total);
    CHECK(b.active == a.active);
    CHECK(b.mtp_total == a.mtp_total);
    CHECK(kv_values_per_token(got.spec) == kv_values_per_token(want.spec));
    CHECK(got.spec.attention.bias == want.spec.attention.bias);
    CHECK(got.spec.attention.qk_norm == want.spec.attention.qk_norm);
    CHECK(got.spec.position.rope_theta == want.spec.position.rope_theta);
    CHECK(got.spec.position.scaling_type == want.spec.position.scaling_type);
    CHECK(got.spec.position.max_position_embeddings == want.spec.position.max_position_embeddings);
    CHECK(got.spec.tie_word_embeddings == want.spec.tie_word_embeddings);
    if (want.spec.moe) {
      REQUIRE(got.spec.moe);
      CHECK(got.spec.moe->expert.swiglu_limit == want.spec.moe->expert.swiglu_limit);
      const RouterSpec& r = want.spec.moe->router;
      const RouterSpec& s = got.spec.moe->router;
      CHECK(s.scoring == r.scoring);
      CHECK(s.normalize_topk == r.normalize_topk);
      CHECK(s.scaling_factor == r.scaling_factor);
      CHECK(s.n_group == r.n_group);
      CHECK(s.topk_group == r.topk_group);
      CHECK(s.correction_bias == r.correction_bias);
    }
    REQUIRE(got.spec.layers.size() == want.spec.layers.size());
    for (std::size_t i = 0; i < got.spec.layers.size(); ++i) {
      CAPTURE(i);
      CHECK(got.spec.layers[i].moe == want.spec.layers[i].moe);
      CHECK(got.spec.layers[i].span == want.spec.layers[i].span);
      CHECK(got.spec.layers[i].window == want.spec.layers[i].window);
      CHECK(got.spec.layers[i].rope == want.spec.layers[i].rope);
    }
  }
}

TEST_CASE("an absent key takes its own family's default, not another family's") {
  // num_key_value_heads: LlamaConfig resolves None to one KV head per query head, while
  // MixtralConfig defaults it to 8 (and only an explicit null to one per head).
  const std::string mixtral = hf_text("mixtral-8x22b");
  const Imported absent = import_text(without_key(mixtral, "num_key_value_heads"), "mixtral");
  CHECK(absent.spec.attention.num_kv_heads == 8);
  std::string null_kv = mixtral;
  null_kv.replace(null_kv.find("\"num_key_value_heads\": 8"), 24, "\"num_key_value_heads\": null");
  CHECK(import_text(null_kv, "mixtral").spec.attention.num_kv_heads == 48);
  const Imported llama =
      import_text(without_key(hf_text("llama-3.1-8b"), "num_key_value_heads"), "llama");
  CHECK(llama.spec.attention.num_kv_heads == 32);
  CHECK(has_line(llama.card,
                 "num_kv_heads: 32  # transformers default (LlamaConfig): "
                 "num_key_value_heads absent, one per attention head"));
  // max_position_embeddings: LlamaConfig 2048, Qwen3MoeConfig 32768.
  CHECK(import_text(without_key(hf_text("llama-3.1-8b"), "max_position_embeddings"), "llama")
            .spec.position.max_position_embeddings == 2048);
  CHECK(import_text(without_key(hf_text("qwen3-30b-a3b"), "max_position_embeddings"), "qwen")
            .spec.position.max_position_embeddings == 32768);
}

TEST_CASE("Llama-4's empty no_rope_layers means the default NoPE interval, as in transformers") {
  // Llama4TextConfig.__post_init__ replaces an empty no_rope_layers with every 4th layer NoPE.
  std::string json = hf_text("llama-4-scout");
  const std::string at = "\"num_attention_heads\": 40,";
  json.replace(json.find(at), at.size(), "\"no_rope_layers\": [],\n    " + at);
  const Imported m = import_text(json, "scout");
  CHECK_FALSE(m.spec.layers[3].rope);
  CHECK(m.spec.layers[2].rope);
  CHECK(has_line(m.card, "config.json no_rope_layers empty"));
}

TEST_CASE("a present key is still validated: hidden_act other than silu is an error") {
  std::string json = hf_text("llama-2-70b-hf");
  json.replace(json.find("\"silu\""), 6, "\"gelu\"");
  const ConfigError e = import_error(json);
  CHECK(e.key_path() == "hidden_act");
}

TEST_CASE("a dimension has no default: a config without hidden_size is an error") {
  const ConfigError e = import_error(without_key(hf_text("llama-2-70b-hf"), "hidden_size"));
  CHECK((e.expected().find("hidden_size") != std::string::npos || e.suggestion() == "hidden_size"));
}

}  // namespace
}  // namespace moesim::llm
