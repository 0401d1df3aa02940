#include "sim/llm/memory_footprint.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/lowering.hpp"
#include "sim/llm/param_count.hpp"

namespace moesim::llm {
namespace {

config::Catalog repo() { return config::Catalog(MOESIM_SOURCE_DIR); }
ModelSpec model(std::string_view name) { return load_model(repo(), name); }
TargetGpu gpu(std::string_view name) {
  const hw::GpuSpec g = hw::load_gpu(repo(), name);
  return TargetGpu{g.name, g.peak_dense, g.hbm.capacity};
}

MemoryOptions options(std::int64_t tokens) {
  MemoryOptions o;
  o.memory_fraction = kVllmDefaultMemoryFraction;
  o.max_tokens_per_step = tokens;
  return o;
}

TEST_CASE("DeepSeek-R1 under attention DP keeps 70,272 B of MLA cache per token per GPU") {
  const ModelSpec m = model("deepseek-r1");
  Precision p = checkpoint_precision(m);
  const ParallelPlan plan = ParallelPlan::attention_dp_ep(8);
  // 61 layers x (512 + 64) values x 2 B = 70,272 B (MODELING.md); FP8 halves it.
  CHECK(binding_footprint(m, plan, p, gpu("h200"), options(0)).kv_bytes_per_token == bytes(70272));
  p.kv_cache = DType::kFP8;
  CHECK(binding_footprint(m, plan, p, gpu("h200"), options(0)).kv_bytes_per_token == bytes(35136));
  // TP8 replicates the latent on every GPU: the same 70,272 B per GPU.
  p.kv_cache = DType::kBF16;
  CHECK(binding_footprint(m, ParallelPlan::tensor_parallel(8), p, gpu("h200"), options(0))
            .kv_bytes_per_token == bytes(70272));
}

TEST_CASE("Llama-3.3-70B under TP8 holds an eighth of every matrix and all the norms") {
  const ModelSpec m = model("llama-3.3-70b");
  const Precision p = checkpoint_precision(m);
  const MemoryFootprint f =
      binding_footprint(m, ParallelPlan::tensor_parallel(8), p, gpu("h200"), options(0));
  // Every matrix splits exactly 8 ways (8 KV heads, 28,672 / 8, 128,256 / 8); only the
  // norms (80 x 2 x 8,192 + 8,192 values, BF16) are held by all 8 GPUs.
  const WeightBytes all = weight_bytes(m, p.weights);
  CHECK(f.weights * 8 == all.total + all.of(TensorClass::kNorm) * 7);
  // KV: 80 layers x 2 (K, V) x 1 KV head x 128 x 2 B = 40,960 B per token per GPU.
  CHECK(f.kv_bytes_per_token == bytes(40960));
  CHECK(f.kv_bytes_per_token_full_span == bytes(40960));
}

TEST_CASE("a GPU's footprint holds exactly the weights its op list reads") {
  // Llama-3.3-70B under TP8, a decode step: each GPU's GEMMs read every matrix shard it holds;
  // the embedding is gathered by rows (not read whole) and norm weights are vectors.
  const ModelSpec m = model("llama-3.3-70b");
  const Precision p = checkpoint_precision(m);
  const ParallelPlan tp8 = ParallelPlan::tensor_parallel(8);
  const MemoryFootprint f = binding_footprint(m, tp8, p, gpu("h200"), options(0));
  const Lowering low(m, tp8, p, gpu("h200"), 8);
  const StepPlan s = low.lower(StepBatch::same_on_every_replica(1, {SequenceWork::decode(64)}));
  CHECK(s.plan_of(0).weight_bytes() ==
        f.weights - f.weights_of(TensorClass::kEmbedding) - f.weights_of(TensorClass::kNorm));
}

TEST_CASE("the activation workspace follows its stated formula") {
  const ModelSpec m = model("llama-3.3-70b");
  const MemoryFootprint f = binding_footprint(m, ParallelPlan::tensor_parallel(8),
                                              checkpoint_precision(m), gpu("h200"), options(8192));
  // T = 8,192: 2 B x (T x (4 x 8,192 + (2 x 8 + 2 x 1) x 128) + T x 3 x 28,672 / 8)
  //   = 2 x (8,192 x 35,072 + 8,192 x 10,752) = 750,780,416
  // + 4 B x T x 128,256 / 8 = 525,336,576 (FP32 logits)          -> 1,276,116,992.
  CHECK(f.activations == bytes(1276116992));
  // KV tokens: what is left of 0.9 x 141 GiB after weights and activations, per 40,960 B.
  const auto usable = static_cast<std::int64_t>(std::floor(0.9 * 141.0 * 1073741824.0));
  CHECK(f.usable == bytes(usable));
  CHECK(f.kv_budget == f.usable - f.weights - f.activations);
  CHECK(f.kv_tokens == f.kv_budget.base() / 40960);
}

TEST_CASE("NVFP4 DeepSeek-R1 under ADP8+EP8 holds about 80 GB of weights per B200") {
  // TensorRT-LLM tech blog 3 (MODELING.md, "Memory decides the batch"): ~80 GB of FP4
  // weights per B200 under ADP8 + EP8, ~100 GB left for KV. Their checkpoint: NVFP4 MoE and
  // dense FFN, BF16 attention (published/cases.yaml). Tolerance 10%.
  const ModelSpec m = model("deepseek-r1");
  const Precision p = parse_precision(
      config::ConfigNode::parse("{weights: {default: nvfp4, attention: bf16}}", "p.yaml"), m);
  const MemoryFootprint f =
      binding_footprint(m, ParallelPlan::attention_dp_ep(8), p, gpu("b200"), options(0));
  // Routed experts: 58 layers x 32 experts x 3 matrices of 2,048 x 7,168 in NVFP4, each
  // 2,048 x 3,584 B + 2,048 x 448 E4M3 scales + 4 B = 8,257,540 B.
  CHECK(f.weights_of(TensorClass::kRoutedExperts) == bytes(58LL * 32 * 3 * 8257540));
  // Attention in BF16, replicated: 61 x 187,105,280 parameters x 2 B (plus two latent norms).
  CHECK(f.weights_of(TensorClass::kAttention) == bytes(61LL * (187105280 + 1536 + 512) * 2));
  const double gb = in_gigabytes(f.weights);
  CHECK(gb > 72.0);
  CHECK(gb < 88.0);
  // About 100 GB left for KV of the 180 GiB (193 GB) at a 0.9 fraction.
  CHECK(in_gigabytes(f.kv_budget) > 90.0);
}

TEST_CASE("memory that cannot hold the weights is rejected with the sizes") {
  const ModelSpec m = model("deepseek-r1");
  const Precision p = checkpoint_precision(m);  // FP8, about 690 GB
  const ParallelPlan tp8 = ParallelPlan::tensor_parallel(8);
  CHECK_NOTHROW(check_memory_fit(m, tp8, p, gpu("h200"), options(8192)));
  try {
    check_memory_fit(m, tp8, p, gpu("h100"), options(8192));
    FAIL("DeepSeek-R1 FP8 was accepted on 8 x 80 GiB");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "parallel");
    CHECK(e.expected().find("within 0.90 x 80.0 GiB = 72.0 GiB per GPU") != std::string::npos);
    CHECK(e.found().find("DeepSeek-R1 under TP8 on h100") != std::string::npos);
  }
}

TEST_CASE("pipeline stages hold the embedding first and the output head last") {
  const ModelSpec m = model("llama-3.3-70b");
  ParallelPlan plan = ParallelPlan::tensor_parallel(4);
  plan.pp = 2;
  const std::vector<MemoryFootprint> f =
      memory_footprints(m, plan, checkpoint_precision(m), gpu("h200"), options(0));
  REQUIRE(f.size() == 2);
  // 128,256 / 4 rows x 8,192 x 2 B = 525,336,576 B of each table.
  CHECK(f[0].weights_of(TensorClass::kEmbedding) == bytes(525336576));
  CHECK(f[0].weights_of(TensorClass::kOutputHead) == bytes(0));
  CHECK(f[1].weights_of(TensorClass::kEmbedding) == bytes(0));
  CHECK(f[1].weights_of(TensorClass::kOutputHead) == bytes(525336576));
  // 40 layers per stage x 2 x 2 KV heads x 128 x 2 B = 40,960 B.
  CHECK(f[0].kv_bytes_per_token == bytes(40960));
}

TEST_CASE("sliding-window layers count apart in the KV growth rate") {
  // gpt-oss-120b: 36 layers, every other one sliding over 128 tokens; 8 KV heads of 64.
  const ModelSpec m = model("gpt-oss-120b");
  const MemoryFootprint f = binding_footprint(m, ParallelPlan::tensor_parallel(1),
                                              checkpoint_precision(m), gpu("h200"), options(0));
  // 36 x 2 x 8 x 64 x 2 B = 73,728 B; the 18 full layers alone: 36,864 B.
  CHECK(f.kv_bytes_per_token == bytes(73728));
  CHECK(f.kv_bytes_per_token_full_span == bytes(36864));
}

TEST_CASE("the MTP module adds its weights and one layer of KV on the last stage") {
  const ModelSpec m = model("deepseek-r1");
  MemoryOptions o = options(0);
  o.include_mtp = true;
  const MemoryFootprint f = binding_footprint(m, ParallelPlan::attention_dp_ep(8),
                                              checkpoint_precision(m), gpu("h200"), o);
  CHECK(f.mtp_weights > bytes(0));
  // 62 layers x 576 x 2 B = 71,424 B.
  CHECK(f.kv_bytes_per_token == bytes(71424));
}

}  // namespace
}  // namespace moesim::llm
