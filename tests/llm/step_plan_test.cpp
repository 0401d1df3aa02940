#include "sim/llm/step_plan.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "sim/core/dtype.hpp"
#include "sim/core/units.hpp"
#include "sim/llm/model.hpp"

namespace moesim::llm {
namespace {

Op op_of(OpBody body) { return Op{"test", 0, 0, StreamKind::kCompute, std::move(body), {}}; }

TEST_CASE("a BF16 GEMM counts 2mnk FLOPs and reads A and B and writes C once") {
  GemmOp g;
  g.m = 4;
  g.n = 256;
  g.k = 128;
  const Op op = op_of(g);
  // 2 x 4 x 256 x 128 = 262,144.
  CHECK(op.flops().base() == doctest::Approx(262144.0));
  // A 4 x 128 x 2 B = 1,024; B 256 x 128 x 2 B = 65,536; C 4 x 256 x 2 B = 2,048.
  CHECK(op.min_bytes() == bytes(1024 + 65536 + 2048));
  CHECK(op.weight_bytes() == bytes(65536));
}

TEST_CASE("an FP8 block-scaled GEMM counts the activation and weight scale factors") {
  GemmOp g;
  g.m = 2;
  g.n = 256;
  g.k = 256;
  g.a_type = DType::kFP8;
  g.b_format = WeightFormat::kFP8Block128;
  g.compute = DType::kFP8;
  // A: 2 x 256 FP8 + one FP32 scale per 1 x 128 group: 512 + 4 x 2 x 2 = 528.
  // B: 256 x 256 FP8 + one FP32 per 128 x 128 block: 65,536 + 4 x 2 x 2 = 65,552.
  // C: 2 x 256 x 2 B = 1,024.
  CHECK(op_of(g).min_bytes() == bytes(528 + 65552 + 1024));
}

TEST_CASE("a batched GEMM multiplies FLOPs and bytes by the batch") {
  GemmOp g;
  g.m = 1;
  g.n = 512;
  g.k = 128;
  g.batch = 16;
  // 2 x 1 x 512 x 128 x 16 = 2,097,152 FLOPs; bytes 16 x (256 + 131,072 + 1,024).
  CHECK(op_of(g).flops().base() == doctest::Approx(2097152.0));
  CHECK(op_of(g).min_bytes() == bytes(16 * (256 + 131072 + 1024)));
}

TEST_CASE("a GEMM without rows moves no bytes") {
  GemmOp g;
  g.m = 0;
  g.n = 4096;
  g.k = 4096;
  CHECK(op_of(g).flops().base() == 0.0);
  CHECK(op_of(g).min_bytes() == bytes(0));
  CHECK(op_of(g).weight_bytes() == bytes(0));
}

TEST_CASE("activation bytes include NVFP4 and MXFP4 scale factors") {
  // NVFP4: 2 rows x 64 values: 2 x 32 B + one E4M3 per 16 (2 x 4) + one FP32 = 76.
  CHECK(activation_bytes(2, 64, DType::kFP4, WeightFormat::kNVFP4) == bytes(76));
  // MXFP4: 2 x 32 B + one E8M0 per 32 (2 x 2) = 68.
  CHECK(activation_bytes(2, 64, DType::kFP4, WeightFormat::kMXFP4) == bytes(68));
  // FP8 with per-tensor weights: 2 x 64 + one FP32 = 132.
  CHECK(activation_bytes(2, 64, DType::kFP8, WeightFormat::kFP8Tensor) == bytes(132));
  CHECK(activation_bytes(0, 64, DType::kFP8, WeightFormat::kFP8Block128) == bytes(0));
}

TEST_CASE("a grouped GEMM reads only the weights of experts that have tokens") {
  GroupedGemmOp g;
  g.tokens_per_expert = {3, 0, 1};
  g.n = 256;
  g.k = 128;
  const Op op = op_of(g);
  // FLOPs 2 x 256 x 128 x (3 + 0 + 1) = 262,144.
  CHECK(op.flops().base() == doctest::Approx(262144.0));
  // Weights per expert: 256 x 128 FP8 + 4 x 2 x 1 block scales = 32,776; two experts read.
  CHECK(op.weight_bytes() == bytes(2 * 32776));
  // Expert 0: A 3 x 128 + 4 x 3 x 1 = 396, C 3 x 256 x 2 = 1,536.
  // Expert 2: A 128 + 4 = 132, C 256 x 2 = 512.
  CHECK(op.min_bytes() == bytes(2 * 32776 + 396 + 1536 + 132 + 512));
  CHECK(g.total_tokens() == 4);
  CHECK(g.active_experts() == 2);
}

TEST_CASE("visible pairs and keys follow the causal mask, sliding windows and chunks") {
  // Full: new tokens at positions 7, 8, 9 of 10 see 8 + 9 + 10 = 27 keys; all 10 are read.
  CHECK(visible_pairs(3, 10, 0, false) == 27);
  CHECK(visible_keys(3, 10, 0, false) == 10);
  // Prefill of 4 from scratch: 1 + 2 + 3 + 4 = 10.
  CHECK(visible_pairs(4, 4, 0, false) == 10);
  // Sliding window 4: each of the 3 sees 4 keys; together positions 3..9 = min(10, 3+4-1) = 6.
  CHECK(visible_pairs(3, 10, 4, false) == 12);
  CHECK(visible_keys(3, 10, 4, false) == 6);
  // Sliding prefill of 6, window 4: 1 + 2 + 3 + 4 + 4 + 4 = 18.
  CHECK(visible_pairs(6, 6, 4, false) == 18);
  // Chunked 4: position 7 sees 4..7 (4), 8 sees 8 (1), 9 sees 8..9 (2) = 7; keys 4..9 = 6.
  CHECK(visible_pairs(3, 10, 4, true) == 7);
  CHECK(visible_keys(3, 10, 4, true) == 6);
  CHECK(visible_pairs(0, 10, 0, false) == 0);
  CHECK(visible_keys(0, 10, 0, false) == 0);
}

TEST_CASE("GQA decode attention reads each sequence's KV once per KV head") {
  AttentionOp a;
  a.kernel = AttentionKernel::kMha;
  a.q_lens = {1, 1};
  a.kv_lens = {100, 50};
  a.heads = 8;
  a.kv_heads = 2;
  a.qk_dim = 128;
  a.v_dim = 128;
  const Op op = op_of(a);
  // FLOPs 2 x 8 x (128 + 128) x (100 + 50) = 614,400.
  CHECK(op.flops().base() == doctest::Approx(614400.0));
  // KV 2 heads x 150 keys x 256 values x 2 B = 153,600; q 8 x 2 x 128 x 2 = 4,096; out 4,096.
  CHECK(op.min_bytes() == bytes(153600 + 4096 + 4096));
}

TEST_CASE("absorbed MLA decode reads the 576-wide latent once for all heads") {
  AttentionOp a;
  a.kernel = AttentionKernel::kMlaAbsorbed;
  a.q_lens = {1};
  a.kv_lens = {1000};
  a.heads = 16;
  a.kv_heads = 1;
  a.qk_dim = 576;
  a.v_dim = 512;
  a.kv_type = DType::kFP8;
  const Op op = op_of(a);
  // FLOPs 2 x 16 x (576 + 512) x 1000 = 34,816,000.
  CHECK(op.flops().base() == doctest::Approx(34816000.0));
  // KV 1000 x 576 x 1 B = 576,000; q 16 x 576 x 2 = 18,432; out 16 x 512 x 2 = 16,384.
  CHECK(op.min_bytes() == bytes(576000 + 18432 + 16384));
}

TEST_CASE("memory ops report their bytes and FLOPs, collectives none") {
  const Op m = op_of(MemoryOp{bytes(100), bytes(50), flops(7.0)});
  CHECK(m.min_bytes() == bytes(150));
  CHECK(m.flops().base() == 7.0);
  CollectiveOp c;
  c.kind = CollectiveKind::kAllToAllV;
  c.send_bytes = {bytes(10), bytes(20)};
  CHECK(op_of(c).min_bytes() == bytes(0));
  CHECK(op_of(c).flops().base() == 0.0);
}

TEST_CASE("a rank plan sums its ops and a group finds its members") {
  RankPlan p;
  p.ops.push_back(op_of(MemoryOp{bytes(10), bytes(5), flops(1.0)}));
  GemmOp g;
  g.m = 1;
  g.n = 2;
  g.k = 3;
  p.ops.push_back(op_of(g));
  // GEMM: 2 x 1 x 2 x 3 = 12 FLOPs; A 6 B, B 12 B, C 4 B.
  CHECK(p.flops().base() == doctest::Approx(13.0));
  CHECK(p.min_bytes() == bytes(15 + 6 + 12 + 4));
  CHECK(p.weight_bytes() == bytes(12));
  const CommGroup group{"ep", {4, 5, 6}};
  CHECK(group.index_of(5) == 1);
  CHECK(group.index_of(7) == -1);
}

}  // namespace
}  // namespace moesim::llm
