#pragma once
/// \file
/// Imports a Hugging Face config.json into a moesim model card (models/README.md, "Importing
/// a Hugging Face config"). Supported architectures (`architectures[0]`):
///   DeepseekV3ForCausalLM (also Kimi-K2), Qwen3MoeForCausalLM, MixtralForCausalLM,
///   GptOssForCausalLM, Llama4ForConditionalGeneration (its text_config; the vision encoder is
///   left out), LlamaForCausalLM.
/// A key the config leaves out (absent or null) takes the default of the family's transformers
/// configuration class (LlamaConfig attention_bias false, rope_theta 10000, ...), marked in the
/// output with `# transformers default (<class>): <key> absent`; dimensions (hidden size,
/// layers, heads, vocabulary, FFN and expert widths, expert counts) have no default.
/// Every key of the config must be one the importer reads or knows to be irrelevant to cost
/// (token ids, dropout, loss coefficients, ...); any other key is a ConfigError, so that an
/// architecture switch the importer does not understand is never dropped silently. Facts the
/// config leaves to the modelling code (which layers are MoE when the config does not say, shared
/// experts, router scoring, attention sinks, which tensors a quantization converts, ...) are
/// filled by per-family rules, each marked in the output with `# inferred from architecture
/// family: <rule>`.

#include <string>
#include <string_view>
#include <vector>

#include "sim/config/config_node.hpp"

namespace moesim::llm {

/// The architectures import_hf_config() accepts.
std::vector<std::string_view> supported_hf_architectures();

/// The YAML text of a model card for the config.json `json` (a ConfigNode of the parsed JSON).
/// The card parses with parse_model(). An unknown architecture is a ConfigError at
/// `architectures` listing the supported ones; a missing or malformed field, an unknown key or an
/// unsupported setting (activation other than silu, a quantization method other than fp8 with
/// 128x128 blocks or mxfp4, ...) is a ConfigError at that field.
std::string import_hf_config(const config::ConfigNode& json);

}  // namespace moesim::llm
