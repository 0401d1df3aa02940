#include "sim/llm/model.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"
#include "sim/llm/param_count.hpp"

namespace moesim::llm {
namespace {

config::Catalog repo_catalog() { return config::Catalog(MOESIM_SOURCE_DIR); }

ModelSpec shipped(std::string_view name) { return load_model(repo_catalog(), name); }

double relative_error(double ours, double official) { return std::abs(ours - official) / official; }

constexpr double kBillion = 1e9;

/// A small valid card; tests replace one part with a broken one.
constexpr std::string_view kTinyCard = R"(
name: tiny
hidden_size: 64
vocab_size: 100
num_layers: 4
tie_word_embeddings: false
attention: {kind: gqa, num_heads: 4, num_kv_heads: 2, head_dim: 16, bias: none, qk_norm: none,
            sinks: false}
position: {rope_theta: 10000, scaling: none, max_position_embeddings: 4096}
ffn: {intermediate_size: 128, activation: swiglu, bias: false}
moe:
  layers: {from: 1}
  num_experts: 8
  experts_per_token: 2
  intermediate_size: 32
  activation: swiglu
  bias: false
  shared_experts: 0
  router: {scoring: softmax, normalize_topk: true, scaling_factor: 1, n_group: 1, topk_group: 1,
           bias: false, correction_bias: false}
checkpoint: {default: bf16}
)";

ModelSpec parse_text(std::string_view text) {
  return parse_model(config::ConfigNode::parse(text, "tiny.yaml"));
}

/// kTinyCard with the first occurrence of `from` replaced by `to`.
std::string tiny_with(std::string_view from, std::string_view to) {
  std::string text(kTinyCard);
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  return text;
}

/// The ConfigError that parsing `text` throws.
ConfigError parse_error(const std::string& text) {
  try {
    parse_text(text);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("the card parsed, but an error was expected");
  return ConfigError({}, {}, {}, {});
}

TEST_CASE("every shipped model card loads from the catalog") {
  const config::Catalog catalog = repo_catalog();
  CHECK(catalog.names("models") ==
        std::vector<std::string>{"deepseek-r1", "gpt-oss-120b", "kimi-k2", "llama-3.3-70b",
                                 "llama-4-maverick", "mixtral-8x7b", "qwen3-235b-a22b"});
  for (const std::string& name : catalog.names("models")) {
    CAPTURE(name);
    const ModelSpec m = load_model(catalog, name);
    CHECK(!m.name.empty());
    CHECK(m.num_layers() > 0);
  }
}

TEST_CASE("DeepSeek-R1 has three dense layers, 58 MoE layers and group-limited routing") {
  const ModelSpec m = shipped("deepseek-r1");
  CHECK(m.num_layers() == 61);
  // first_k_dense_replace 3: layers 0-2 dense, 3-60 MoE.
  CHECK_FALSE(m.layers[2].moe);
  CHECK(m.layers[3].moe);
  CHECK(m.num_moe_layers() == 58);
  CHECK(m.attention.kind == AttentionKind::kMla);
  CHECK(m.attention.q_width() == 128 * (128 + 64));
  REQUIRE(m.moe.has_value());
  CHECK(m.moe->router.scoring == RouterScoring::kSigmoid);
  CHECK(m.moe->router.n_group == 8);
  CHECK(m.moe->router.topk_group == 4);
  CHECK(m.moe->num_shared_experts == 1);
  CHECK(m.mtp_layers == 1);
  // TensorRT-LLM's measured MTP acceptance, positions 1..3 (models/deepseek-r1.yaml).
  REQUIRE(m.mtp_acceptance.size() == 3);
  CHECK(m.mtp_acceptance[0] == doctest::Approx(0.92));
  CHECK(m.checkpoint.of(TensorClass::kRoutedExperts) == WeightFormat::kFP8Block128);
  CHECK(m.checkpoint.of(TensorClass::kEmbedding) == WeightFormat::kBF16);
}

TEST_CASE("Llama-4 Maverick alternates dense and MoE layers and uses chunked RoPE layers") {
  const ModelSpec m = shipped("llama-4-maverick");
  // interleave_moe_layer_step 2: odd layers MoE. no_rope_layer_interval 4: layers 3, 7, ... NoPE
  // with global attention; the other 36 layers attend within 8192-token chunks.
  CHECK_FALSE(m.layers[0].moe);
  CHECK(m.layers[1].moe);
  CHECK(m.num_moe_layers() == 24);
  CHECK(m.layers[0].rope);
  CHECK(m.layers[0].span == AttentionSpan::kChunked);
  CHECK(m.layers[0].window == 8192);
  CHECK_FALSE(m.layers[3].rope);
  CHECK(m.layers[3].span == AttentionSpan::kFull);
  CHECK(m.layers[47].span == AttentionSpan::kFull);
  int chunked = 0;
  for (const LayerSpec& l : m.layers) chunked += l.span == AttentionSpan::kChunked ? 1 : 0;
  CHECK(chunked == 36);
}

TEST_CASE("gpt-oss slides a 128-token window on even layers and stores experts in MXFP4") {
  const ModelSpec m = shipped("gpt-oss-120b");
  CHECK(m.layers[0].span == AttentionSpan::kSliding);
  CHECK(m.layers[0].window == 128);
  CHECK(m.layers[1].span == AttentionSpan::kFull);
  CHECK(m.layers[34].span == AttentionSpan::kSliding);
  CHECK(m.layers[35].span == AttentionSpan::kFull);
  CHECK(m.attention.sinks);
  CHECK(m.checkpoint.of(TensorClass::kRoutedExperts) == WeightFormat::kMXFP4);
  CHECK(m.checkpoint.of(TensorClass::kAttention) == WeightFormat::kBF16);
}

TEST_CASE("DeepSeek-R1 parameters recount exactly from its shapes") {
  const ParamCounts c = count_parameters(shipped("deepseek-r1"));
  // Per layer MLA: q_a 1536x7168 = 11,010,048; q_a_norm 1,536; q_b 128x192x1536 = 37,748,736;
  // kv_a 576x7168 = 4,128,768; kv_a_norm 512; kv_b 128x256x512 = 16,777,216;
  // o 7168x16384 = 117,440,512; sum 187,107,328; x 61 layers = 11,413,547,008.
  CHECK(c.total_of(TensorClass::kAttention) == 11'413'547'008);
  // Dense FFN: 3 layers x 3 x 7168 x 18432 = 1,189,085,184.
  CHECK(c.total_of(TensorClass::kDenseFfn) == 1'189'085'184);
  // Routed experts: 58 layers x 256 x 3 x 7168 x 2048 = 653,908,770,816.
  CHECK(c.total_of(TensorClass::kRoutedExperts) == 653'908'770'816);
  // Shared: 58 x 3 x 7168 x 2048 = 2,554,331,136; router: 58 x (256 x 7168 + 256 bias).
  CHECK(c.total_of(TensorClass::kSharedExperts) == 2'554'331'136);
  CHECK(c.total_of(TensorClass::kRouter) == 106'445'312);
  // Norms: 2 x 7168 x 61 + 7168 = 881,664. Embedding and head: 129280 x 7168 = 926,679,040.
  CHECK(c.total_of(TensorClass::kNorm) == 881'664);
  CHECK(c.embedding == 926'679'040);
  CHECK(c.total == 671'026'419'200);
  // Active: the above with 8 of 256 routed experts and without the input embedding.
  CHECK(c.active == 36'625'618'432);
  CHECK(c.active_with_embedding == 36'625'618'432 + 926'679'040);
  // MTP: one MLA + MoE layer (187,107,328 + 256 x 44,040,192 + 44,040,192 shared + router
  // 1,835,264) + enorm, hnorm, layer norms and final norm (5 x 7168) + eh_proj 7168 x 14336.
  CHECK(c.mtp_total == 11'610'068'224);
}

/// An official figure and the convention it is stated in.
struct Official {
  std::string_view model;
  double total;   ///< parameters
  double active;  ///< parameters
  bool active_includes_embedding;
  double active_tolerance;  ///< relative
};

TEST_CASE("parameter counts match the official figures within 1%") {
  // Sources in models/README.md. Like is compared with like: where a vendor's active figure
  // includes the input embedding table, so does ours (active_with_embedding).
  const Official kOfficial[] = {
      // DeepSeek-V3 README_WEIGHTS.md (deepseek-ai/DeepSeek-V3@0b39205aed0d): 671B total,
      // 36.7B active. Its note "including 0.9B Embedding and 0.9B output Head" does not fit the
      // shapes (with both tables it is 37.6B); 36.6B without the input table fits to 0.2%. The
      // model table's rounded "37B" is 1.0% off, so the precise figure is used.
      {"deepseek-r1", 671e9, 36.7e9, false, 0.01},
      // Qwen3 Technical Report: 235B / 22B; 22B counts the embedding (21.6B without: 2% off).
      {"qwen3-235b-a22b", 235e9, 22e9, true, 0.01},
      // Mistral AI: 46.7B / 12.9B; 12.9B counts the embedding (12.75B without: 1.2% off).
      {"mixtral-8x7b", 46.7e9, 12.9e9, true, 0.01},
      // openai/gpt-oss README: 117B / 5.1B; 5.1B has the head and not the embedding.
      {"gpt-oss-120b", 117e9, 5.1e9, false, 0.01},
      // Llama-3.3 model card: 70B, dense (every weight but the input table is active).
      {"llama-3.3-70b", 70e9, 70e9, true, 0.01},
      // Llama-4 model card: 400B / 17B. "17B" has two significant digits: our 17.19B with the
      // embedding (16.15B without) rounds to it but is 1.1% off, so this one row allows the
      // half-unit of the published rounding, 0.5B / 17B = 2.9%.
      {"llama-4-maverick", 400e9, 17e9, true, 0.5 / 17.0},
      // Kimi-K2 README: 32B active without the embedding (32.9B with it: 2.7% off). Its "1T"
      // total is rounded to one digit; the total compared is the checkpoint's tensor count,
      // 1,026,470,731,056, which holds 62.5M FP32 block scales besides the weights (see below).
      {"kimi-k2", 1'026'470'731'056.0, 32e9, false, 0.01},
  };
  for (const Official& o : kOfficial) {
    CAPTURE(o.model);
    const ParamCounts c = count_parameters(shipped(o.model));
    const double active =
        static_cast<double>(o.active_includes_embedding ? c.active_with_embedding : c.active);
    CHECK(relative_error(static_cast<double>(c.total), o.total) < 0.01);
    CHECK(relative_error(active, o.active) < o.active_tolerance);
  }
}

TEST_CASE("Kimi-K2 parameters plus FP8 block scales equal the checkpoint's tensor count") {
  const ModelSpec m = shipped("kimi-k2");
  const ParamCounts c = count_parameters(m);
  // The checkpoint holds 1,026,470,731,056 values, FP32 scale tensors included (models/README.md
  // Summary). One FP32 scale = 4 bytes = one value.
  const WeightBytes w = weight_bytes(m, m.checkpoint);
  const double values = static_cast<double>(c.total) + in_bytes(w.scales) / 4.0;
  CHECK(relative_error(values, 1'026'470'731'056.0) < 1e-5);
}

TEST_CASE("checkpoint bytes match the published sizes of Kimi-K2 and gpt-oss-120b") {
  // Kimi-K2: "958.5 GB of safetensors" (models/README.md); the figure is in GiB (1029.2e9 B).
  // FP8 projections + FP32 block scales + BF16 embedding, head, norms, router.
  const ModelSpec kimi = shipped("kimi-k2");
  CHECK(relative_error(in_gibibytes(weight_bytes(kimi, kimi.checkpoint).total), 958.5) < 0.001);
  // gpt-oss-120b: 60.8 GiB (gpt-oss model card, arXiv:2508.10925, Table 1): MXFP4 experts,
  // BF16 rest.
  const ModelSpec oss = shipped("gpt-oss-120b");
  CHECK(relative_error(in_gibibytes(weight_bytes(oss, oss.checkpoint).total), 60.8) < 0.002);
}

TEST_CASE("weight formats store elements and scales as their specifications say") {
  // One DeepSeek expert down projection, 7168 x 2048 = 14,680,064 elements.
  const std::int64_t r = 7168, k = 2048, n = r * k;
  CHECK(tensor_bytes(r, k, WeightFormat::kBF16).total() == Bytes{2 * n});
  // FP8 128x128: n bytes + 4 B x (7168/128 = 56) x (2048/128 = 16) = 3,584 B of scales.
  CHECK(tensor_bytes(r, k, WeightFormat::kFP8Block128).elements == Bytes{n});
  CHECK(tensor_bytes(r, k, WeightFormat::kFP8Block128).scales == Bytes{3'584});
  // A partial block still holds a scale: 576 rows -> ceil(576/128) = 5 block rows.
  CHECK(tensor_bytes(576, 7168, WeightFormat::kFP8Block128).scales == Bytes{4 * 5 * 56});
  // NVFP4: n/2 B of E2M1 + one E4M3 byte per 16 (n/16) + one FP32 per tensor = 4.5 bits/weight.
  CHECK(tensor_bytes(r, k, WeightFormat::kNVFP4).total() == Bytes{n / 2 + n / 16 + 4});
  // MXFP4: n/2 B + one E8M0 byte per 32 (n/32) = 4.25 bits/weight.
  CHECK(tensor_bytes(r, k, WeightFormat::kMXFP4).total() == Bytes{n / 2 + n / 32});
  CHECK(tensor_bytes(r, k, WeightFormat::kFP8Tensor).total() == Bytes{n + 4});
  // Vectors are never block-quantized: a 2880-wide bias in MXFP4 is 2880 BF16 values.
  CHECK(tensor_bytes(1, 2880, WeightFormat::kMXFP4).total() == Bytes{2 * 2880});
}

TEST_CASE("DeepSeek-R1 caches 576 values per token per layer: 70,272 B in BF16, 35,136 B in FP8") {
  const ModelSpec m = shipped("deepseek-r1");
  // (kv_lora_rank 512 + qk_rope_head_dim 64) x 61 layers = 35,136 values.
  CHECK(kv_values_per_token(m) == 35'136);
  CHECK(kv_cache_bytes_per_token(m, DType::kBF16) == Bytes{70'272});
  CHECK(kv_cache_bytes_per_token(m, DType::kFP8) == Bytes{35'136});
}

TEST_CASE("sliding and chunked layers cap the KV cache at their window") {
  const ModelSpec oss = shipped("gpt-oss-120b");
  // 2 x 8 KV heads x 64 = 1024 values per token per layer, BF16 = 2,048 B. At 1000 tokens:
  // 18 full layers keep 1000 tokens, 18 sliding layers 128.
  CHECK(kv_cache_bytes(oss, DType::kBF16, 1000) ==
        Bytes{(18 * std::int64_t{1000} + 18 * 128) * 2048});
  // Below the window every layer keeps every token: the per-token figure times the length.
  CHECK(kv_cache_bytes(oss, DType::kBF16, 100) ==
        kv_cache_bytes_per_token(oss, DType::kBF16) * 100);
  const ModelSpec llama4 = shipped("llama-4-maverick");
  // 12 global layers keep 100k tokens, 36 chunked ones at most 8192; 2 x 8 x 128 x 2 B = 4 KiB.
  CHECK(kv_cache_bytes(llama4, DType::kBF16, 100'000) ==
        Bytes{(12 * std::int64_t{100'000} + 36 * 8192) * 4096});
}

TEST_CASE("a misspelt key is an error that suggests the right one") {
  const ConfigError e = parse_error(tiny_with("experts_per_token", "experts_per_tokn"));
  CHECK(e.key_path() == "moe.experts_per_tokn");
  CHECK(e.suggestion() == "experts_per_token");
}

TEST_CASE("an MTP acceptance rate outside (0, 1] is rejected at its key") {
  const ConfigError e = parse_error(
      tiny_with("checkpoint: {default: bf16}",
                "mtp: {layers: 1, acceptance: [0.9, 1.5]}\ncheckpoint: {default: bf16}"));
  CHECK(e.key_path() == "mtp.acceptance[1]");
}

TEST_CASE("a layer count beyond 10,000 is rejected at its key, not by the layer table") {
  // Found by the fuzz test: num_layers 2^63 - 1 threw std::length_error (an internal error).
  const ConfigError e = parse_error(tiny_with("num_layers: 4", "num_layers: 9223372036854775807"));
  CHECK(e.key_path() == "num_layers");
  CHECK(e.expected() == "an integer from 1 to 10000");
}

TEST_CASE("inconsistent cards are rejected at the offending key") {
  SUBCASE("top-k above the expert count") {
    const ConfigError e = parse_error(tiny_with("experts_per_token: 2", "experts_per_token: 9"));
    CHECK(e.key_path() == "moe.experts_per_token");
  }
  SUBCASE("query heads not a multiple of KV heads") {
    const ConfigError e = parse_error(tiny_with("num_kv_heads: 2", "num_kv_heads: 3"));
    CHECK(e.key_path() == "attention.num_kv_heads");
  }
  SUBCASE("dense layers without a dense FFN") {
    std::string text =
        tiny_with("ffn: {intermediate_size: 128, activation: swiglu, bias: false}", "");
    CHECK_THROWS_AS(parse_text(text), ConfigError);
  }
  SUBCASE("a dense FFN that no layer uses") {
    const ConfigError e = parse_error(tiny_with("layers: {from: 1}", "layers: all"));
    CHECK(e.key_path() == "ffn");
  }
  SUBCASE("a layer index past the last layer") {
    const ConfigError e = parse_error(tiny_with("layers: {from: 1}", "layers: [1, 4]"));
    CHECK(e.key_path() == "moe.layers[1]");
  }
  SUBCASE("an offset not below its period") {
    const ConfigError e =
        parse_error(tiny_with("layers: {from: 1}", "layers: {every: 2, offset: 2}"));
    CHECK(e.key_path() == "moe.layers.offset");
  }
  SUBCASE("a stated KV size that does not match the shapes") {
    // 2 x 2 KV heads x 16 = 64 values, not 128.
    const ConfigError e = parse_error(
        tiny_with("sinks: false}", "sinks: false, kv_values_per_token_per_layer: 128}"));
    CHECK(e.key_path() == "attention.kv_values_per_token_per_layer");
  }
  SUBCASE("groups that cannot supply top-k experts") {
    // 8 experts in 4 groups of 2; 1 group reaches 2 experts, top-k 2 fits; top-k 3 does not.
    std::string text = tiny_with("n_group: 1, topk_group: 1", "n_group: 4, topk_group: 1");
    CHECK_NOTHROW(parse_text(text));
    const auto at = text.find("experts_per_token: 2");
    text.replace(at, 20, "experts_per_token: 3");
    CHECK(parse_error(text).key_path() == "moe.router.topk_group");
  }
  SUBCASE("an unknown weight format") {
    const ConfigError e = parse_error(tiny_with("{default: bf16}", "{default: fp8_block12}"));
    CHECK(e.key_path() == "checkpoint.default");
    CHECK(e.suggestion() == "fp8_block128");
  }
}

TEST_CASE("a tiny card counts every tensor by hand") {
  const ParamCounts c = count_parameters(parse_text(kTinyCard));
  // Attention per layer: q 64x64 + k 32x64 + v 32x64 + o 64x64 = 12,288; x 4 = 49,152.
  CHECK(c.total_of(TensorClass::kAttention) == 49'152);
  // Layer 0 dense: 3 x 64 x 128 = 24,576. Layers 1-3: 8 experts x 3 x 64 x 32 = 49,152 each.
  CHECK(c.total_of(TensorClass::kDenseFfn) == 24'576);
  CHECK(c.total_of(TensorClass::kRoutedExperts) == 3 * 49'152);
  CHECK(c.active_of(TensorClass::kRoutedExperts) == 3 * 2 * 6'144);
  // Router 8 x 64 x 3 layers; norms 2 x 64 x 4 + 64; embedding and head 100 x 64 each.
  CHECK(c.total_of(TensorClass::kRouter) == 1'536);
  CHECK(c.total_of(TensorClass::kNorm) == 576);
  CHECK(c.embedding == 6'400);
  CHECK(c.total == 49'152 + 24'576 + 147'456 + 1'536 + 576 + 2 * 6'400);
  CHECK(c.active == 49'152 + 24'576 + 36'864 + 1'536 + 576 + 6'400);
}

TEST_CASE("tied embeddings are counted once, as the active output head") {
  const ParamCounts untied = count_parameters(parse_text(kTinyCard));
  const ParamCounts tied = count_parameters(
      parse_text(tiny_with("tie_word_embeddings: false", "tie_word_embeddings: true")));
  // One 100 x 64 table fewer in total; the table is read as the head, so active is unchanged.
  CHECK(tied.total == untied.total - 6'400);
  CHECK(tied.active == untied.active);
  CHECK(tied.embedding == 0);
}

}  // namespace
}  // namespace moesim::llm
