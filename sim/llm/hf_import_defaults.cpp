#include <optional>

#include "sim/llm/hf_import_detail.hpp"

namespace moesim::llm::detail {

// What each family's transformers configuration class gives the keys a config.json leaves out
// (HfDefaults). Sources, in huggingface/transformers: src/transformers/models/<family>/
// configuration_<family>.py at 008e57439125 (llama: LlamaConfig; mixtral: MixtralConfig;
// qwen3_moe: Qwen3MoeConfig; llama4: Llama4TextConfig, Llama4Config), at 001f85b38fb4
// (deepseek_v3: DeepseekV3Config) and at 02b8f42b4240 (gpt_oss: GptOssConfig). RoPE bases are
// each class's default_theta, else RotaryEmbeddingConfigMixin.default_theta = 10000
// (src/transformers/modeling_rope_utils.py); head_dim and num_key_value_heads of None resolve in
// each class's __post_init__ to hidden_size / heads and one KV head per query head.
const HfDefaults kLlamaDefaults{.config_class = "LlamaConfig",
                                .num_key_value_heads = std::nullopt,
                                .head_dim = std::nullopt,
                                .max_position_embeddings = 2048,
                                .rope_theta = 10000.0};
const HfDefaults kMixtralDefaults{.config_class = "MixtralConfig",
                                  .num_key_value_heads = 8,
                                  .head_dim = std::nullopt,
                                  .max_position_embeddings = 4096 * 32,
                                  .rope_theta = 1000000.0};
// Qwen3MoeConfig has no head_dim field; modeling_qwen3_moe.py falls back to hidden / heads.
const HfDefaults kQwen3MoeDefaults{.config_class = "Qwen3MoeConfig",
                                   .num_key_value_heads = 4,
                                   .head_dim = std::nullopt,
                                   .max_position_embeddings = 32768,
                                   .rope_theta = 10000.0};
const HfDefaults kDeepseekV3Defaults{.config_class = "DeepseekV3Config",
                                     .num_key_value_heads = std::nullopt,
                                     .head_dim = std::nullopt,
                                     .max_position_embeddings = 4096,
                                     .rope_theta = 10000.0};
const HfDefaults kGptOssDefaults{
    .config_class = "GptOssConfig",
    .num_key_value_heads = 8,
    .head_dim = 64,
    .max_position_embeddings = 131072,
    .rope_theta = 150000.0,
    .rope_scaling = "{type: yarn, factor: 32, original_max_position_embeddings: 4096}",
    .attention_bias = true};
const HfDefaults kLlama4TextDefaults{.config_class = "Llama4TextConfig",
                                     .num_key_value_heads = 8,
                                     .head_dim = 128,
                                     .max_position_embeddings = 4096 * 32,
                                     .rope_theta = 500000.0};

}  // namespace moesim::llm::detail
