#include "sim/llm/parallel_plan.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/precision.hpp"

namespace moesim::llm {
namespace {

ModelSpec model(std::string_view name) {
  return load_model(config::Catalog(MOESIM_SOURCE_DIR), name);
}

ParallelPlan parse(std::string_view yaml) {
  const config::ConfigNode root = config::ConfigNode::parse(yaml, "scenario.yaml");
  return parse_parallel_plan(root.at("parallel"));
}

/// The ConfigError validate_plan throws.
ConfigError rejection(const ModelSpec& m, const ParallelPlan& p, std::int32_t gpus,
                      const Precision* precision = nullptr) {
  try {
    validate_plan(m, p, precision ? *precision : checkpoint_precision(m), gpus);
  } catch (const ConfigError& e) {
    return e;
  }
  FAIL("the plan was accepted, but a rejection was expected");
  return ConfigError({}, {}, {}, {});
}

TEST_CASE("a wide-EP plan reads from YAML with attention-DP defaults") {
  const ParallelPlan p = parse(
      "parallel: {tp: 1, attention_dp: 72, ep: 72, pp: 1, shared_expert: replicated, "
      "micro_batches: 2, redundant_experts: 32}");
  CHECK(p.tp == 1);
  CHECK(p.attention_dp == 72);
  CHECK(p.ep == 72);
  CHECK(p.micro_batches == 2);
  CHECK(p.redundant_experts == 32);
  CHECK(p.shared_expert == FfnLayout::kReplicated);
  CHECK(p.dense_ffn == FfnLayout::kReplicated);  // default under attention DP
  CHECK(p.world_size() == 72);
  CHECK(p.key_path == "parallel");
  CHECK(p.location.line == 1);
  CHECK(describe(p) == "ADP72+EP72(+32 redundant)+TBO");
  // 256 experts + 32 redundant slots over 72 ranks: 4 slots per GPU.
  CHECK(p.slots_per_rank(*model("deepseek-r1").moe) == 4);
  CHECK_NOTHROW(
      validate_plan(model("deepseek-r1"), p, checkpoint_precision(model("deepseek-r1")), 72));
}

TEST_CASE("a TP plan shards dense FFNs and shared experts by default") {
  const ParallelPlan p = parse("parallel: {tp: 8}");
  CHECK(p.dense_ffn == FfnLayout::kSharded);
  CHECK(p.shared_expert == FfnLayout::kSharded);
  CHECK(p.moe_tp() == 8);
  CHECK_FALSE(p.token_shares());
  CHECK(describe(p) == "TP8");
  CHECK(describe(ParallelPlan::attention_dp_ep(8)) == "ADP8+EP8");
  CHECK(describe(parse("parallel: {tp: 4, attention_dp: 2, ep: 8}")) == "TP4xADP2+EP8");
  CHECK(describe(parse("parallel: {tp: 4, pp: 2}")) == "TP4xPP2");
  CHECK(describe(parse("parallel: {tp: 8, ep: 8}")) == "TP8+EP8");
}

TEST_CASE("plan keys and layouts are checked with a did-you-mean") {
  CHECK_THROWS_WITH_AS(parse("parallel: {tp: 8, micro_batch: 2}"),
                       doctest::Contains("micro_batches"), ConfigError);
  CHECK_THROWS_WITH_AS(parse("parallel: {dense_ffn: shard}"), doctest::Contains("sharded"),
                       ConfigError);
  CHECK_THROWS_AS(parse("parallel: {tp: 0}"), ConfigError);
}

TEST_CASE("ranks number stage-major, then replica, then TP rank") {
  ParallelPlan p;
  p.tp = 4;
  p.attention_dp = 2;
  p.ep = 8;
  p.pp = 2;
  // Rank 13 = stage 1 x 8 + replica 1 x 4 + TP rank 1.
  const RankCoord c = p.coord(13);
  CHECK(c.stage == 1);
  CHECK(c.dp == 1);
  CHECK(c.tp == 1);
  CHECK(c.index == 5);
  CHECK(p.rank_of(1, 1, 1) == 13);
}

TEST_CASE("tp must divide the attention heads") {
  const ModelSpec m = model("deepseek-r1");
  CHECK_NOTHROW(validate_plan(m, ParallelPlan::tensor_parallel(8), checkpoint_precision(m), 8));
  const ConfigError e = rejection(m, ParallelPlan::tensor_parallel(3), 8);
  CHECK(e.key_path() == "parallel.tp");
  CHECK(e.expected() == "tp dividing DeepSeek-R1's 128 attention heads");
  CHECK(e.found() == "tp: 3");
}

TEST_CASE("GQA KV heads are split or replicated evenly under TP") {
  // Qwen3-235B: 64 heads, 4 KV heads; TP8 replicates each KV head on 2 GPUs.
  const ModelSpec qwen = model("qwen3-235b-a22b");
  const ParallelPlan tp8 = ParallelPlan::tensor_parallel(8);
  CHECK_NOTHROW(validate_plan(qwen, tp8, checkpoint_precision(qwen), 8));
  CHECK(heads_per_rank(qwen, tp8) == 8);
  CHECK(kv_heads_per_rank(qwen, tp8) == 1);
  // Llama-4 Maverick: 40 heads, 8 KV heads: TP8 gives 5 heads and 1 KV head per GPU.
  const ModelSpec maverick = model("llama-4-maverick");
  CHECK(heads_per_rank(maverick, tp8) == 5);
  CHECK(kv_heads_per_rank(maverick, tp8) == 1);
  // Llama-3.3: TP16 splits 64 heads 4 per GPU and replicates each of the 8 KV heads on 2 GPUs.
  const ModelSpec llama = model("llama-3.3-70b");
  CHECK_NOTHROW(
      validate_plan(llama, ParallelPlan::tensor_parallel(16), checkpoint_precision(llama), 16));
  // Maverick with TP 20: 40 heads split, but 20 neither divides nor is a multiple of 8 KV heads.
  const ConfigError e = rejection(maverick, ParallelPlan::tensor_parallel(20), 32);
  CHECK(e.expected().find("8 KV heads") != std::string::npos);
}

TEST_CASE("ep must divide the expert slots, redundant ones included") {
  const ModelSpec m = model("deepseek-r1");
  const ConfigError e = rejection(m, ParallelPlan::attention_dp_ep(7), 8);
  CHECK(e.key_path() == "parallel.ep");
  CHECK(e.expected() == "ep dividing the 256 experts + 0 redundant slots = 256");
  // 3 redundant slots make 259 = 7 x 37.
  ParallelPlan p = ParallelPlan::attention_dp_ep(7);
  p.redundant_experts = 3;
  CHECK_NOTHROW(validate_plan(m, p, checkpoint_precision(m), 8));
}

TEST_CASE("ep is 1 or spans the whole stage") {
  const ModelSpec m = model("deepseek-r1");
  ParallelPlan p = ParallelPlan::tensor_parallel(8);
  p.ep = 4;
  const ConfigError e = rejection(m, p, 8);
  CHECK(e.key_path() == "parallel.ep");
  CHECK(e.expected().find("tp x attention_dp = 8") != std::string::npos);
  p.ep = 8;  // vLLM's TP8 attention with EP8 experts
  CHECK_NOTHROW(validate_plan(m, p, checkpoint_precision(m), 8));
}

TEST_CASE("a plan larger than the system is rejected") {
  const ModelSpec m = model("deepseek-r1");
  const ConfigError e = rejection(m, ParallelPlan::attention_dp_ep(16), 8);
  CHECK(e.key_path() == "parallel");
  CHECK(e.expected() == "a plan within the system's 8 GPUs");
  CHECK(e.found().find("= 16 GPUs") != std::string::npos);
}

TEST_CASE("FP8 block-scaled experts need whole 128-wide blocks per shard") {
  // Qwen3-235B FP8 under TP8 without EP: 1536 / 8 = 192 columns, not whole 128-blocks (the
  // known vLLM failure, which EP avoids).
  const ModelSpec m = model("qwen3-235b-a22b");
  Precision fp8 = checkpoint_precision(m);
  fp8.weights = CheckpointPrecision::uniform(WeightFormat::kFP8Block128);
  const ConfigError e = rejection(m, ParallelPlan::tensor_parallel(8), 8, &fp8);
  CHECK(e.found() == "1536 / 8 = 192 columns per shard");
  ParallelPlan ep = ParallelPlan::tensor_parallel(8);
  ep.ep = 8;
  CHECK_NOTHROW(validate_plan(m, ep, fp8, 8));
}

TEST_CASE("EP and redundancy make no sense for a dense model or without EP") {
  const ModelSpec llama = model("llama-3.3-70b");
  CHECK(rejection(llama, ParallelPlan::attention_dp_ep(8), 8).key_path() == "parallel.ep");
  const ModelSpec ds = model("deepseek-r1");
  ParallelPlan p = ParallelPlan::tensor_parallel(8);
  p.redundant_experts = 8;
  CHECK(rejection(ds, p, 8).key_path() == "parallel.redundant_experts");
  p = ParallelPlan::tensor_parallel(8);
  p.micro_batches = 3;
  CHECK(rejection(ds, p, 8).key_path() == "parallel.micro_batches");
}

TEST_CASE("pipeline stages take contiguous layer ranges, the first ones one more") {
  const ModelSpec m = model("deepseek-r1");  // 61 layers
  ParallelPlan p = ParallelPlan::tensor_parallel(8);
  p.pp = 2;
  CHECK(stage_layers(m, p) ==
        std::vector<std::pair<std::int32_t, std::int32_t>>{{0, 31}, {31, 61}});
  p.pp = 4;  // 61 = 16 + 15 + 15 + 15
  CHECK(stage_layers(m, p) ==
        std::vector<std::pair<std::int32_t, std::int32_t>>{{0, 16}, {16, 31}, {31, 46}, {46, 61}});
}

}  // namespace
}  // namespace moesim::llm
