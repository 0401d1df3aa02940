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
  // 4096 / 32 heads = 128.
  CHECK(card.find("head_dim: 128  # derived: hidden_size / num_attention_heads") !=
        std::string::npos);
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

}  // namespace
}  // namespace moesim::llm
