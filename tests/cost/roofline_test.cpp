// Tests of the roofline compute model (sim/cost/impl/roofline.cpp): the equations on hand-made
// shapes, the launch overheads, unsupported compute types, delegation of collectives and
// monotonicity. Expected times are derived symbolically from the resolved efficiency
// parameters (topologies/efficiency.yaml, each figure sourced there) so that each check follows
// the model's equations exactly; the comments give today's numbers.

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/cost/efficiency.hpp"
#include "sim/cost/registry.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

/// A roofline model for a catalog GPU with the default efficiencies.
struct Priced {
  hw::GpuSpec gpu;
  EfficiencyParams params;
  std::unique_ptr<ComputeModel> model;
};

Priced roofline(const std::string& gpu_name, ComputeOptions options = {}) {
  const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
  ComputeModelRegistry registry;
  register_builtin(registry);
  Priced p;
  p.gpu = hw::load_gpu(catalog, gpu_name);
  p.params = EfficiencyTable::load(catalog).resolve(p.gpu);
  p.model = registry.make("roofline", p.gpu, p.params, options);
  return p;
}

double peak(const hw::GpuSpec& gpu, DType t) { return gpu.peak_dense.get(t)->base(); }
double stream_bw(const Priced& p) { return p.gpu.hbm.bandwidth.base() * p.params.hbm_stream; }
double gemm_bw(const Priced& p) { return stream_bw(p) * p.params.gemm_memory_vs_stream; }

llm::GemmOp gemm(std::int64_t m, std::int64_t n, std::int64_t k, DType compute) {
  llm::GemmOp g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.compute = compute;
  g.a_type = compute;
  g.b_format = compute == DType::kFP8 ? llm::WeightFormat::kFP8Block128
                                      : (compute == DType::kFP4 ? llm::WeightFormat::kNVFP4
                                                                : llm::WeightFormat::kBF16);
  return g;
}

llm::Op op_of(llm::OpBody body) {
  llm::Op op;
  op.name = "test";
  op.body = std::move(body);
  return op;
}

TEST_CASE("a large BF16 GEMM on H100 is compute-bound at peak x efficiency x waves") {
  const Priced p = roofline("h100");
  // M = N = K = 8192, BF16 in and out. FLOPs = 2 x 8192^3 = 1.0995e12.
  // Bytes = A + B + out = 3 x 8192^2 x 2 B = 402,653,184 B.
  const double f = 2.0 * 8192.0 * 8192.0 * 8192.0;
  const Bytes d{3LL * 8192 * 8192 * 2};
  const OpCost c = p.model->price(gemm(8192, 8192, 8192, DType::kBF16), Flops{f}, d);
  // Tiles 64 x 64 = 4,096 on 132 SMs: 32 waves, u = 4096 / (32 x 132) = 0.9697.
  const double u = 4096.0 / (32.0 * 132.0);
  // 989.4 TFLOP/s x 0.803 (MAMF, S2) x u = 770.4 TFLOP/s -> 1.4271 ms, plus the exposed
  // output store on Hopper: 134,217,728 B / (3.35 TB/s x 0.90) = 44.5 us. Total 1.4717 ms.
  const double rate = peak(p.gpu, DType::kBF16) * *p.params.gemm_compute.get(DType::kBF16) * u;
  const double store = p.params.store_exposed * 8192.0 * 8192.0 * 2.0 / stream_bw(p);
  CHECK(c.compute_time == ceil_duration(f / rate + store));
  // Memory: 402,653,184 B / (3.35 TB/s x 0.90 x 0.82) = 162.9 us, far below.
  CHECK(c.memory_time == ceil_duration(static_cast<double>(d.base()) / gemm_bw(p)));
  CHECK(c.bound == Bound::kCompute);
  CHECK(c.time == c.compute_time + p.params.launch_gap);
  // Achieved: 1.0995e12 FLOP / 1.4737 ms = 746 TFLOP/s, 75% of the dense peak.
  CHECK(f / to_seconds(c.time) / 1e12 == doctest::Approx(746.1).epsilon(0.01));
}

TEST_CASE("an M = 1 decode GEMM is memory-bound at weights / (bandwidth x efficiency)") {
  const Priced p = roofline("h100");
  // M = 1, N = K = 7168, FP8 with 128 x 128 block scales (DeepSeek-V3 style).
  // Bytes: A 7168 + 56 x 4 B scales = 7,392; B 7168^2 + 56 x 56 x 4 B = 51,392,768;
  // out 7168 x 2 = 14,336. Total 51,414,496 B.
  const Bytes d{7392 + 51'392'768 + 14'336};
  const double f = 2.0 * 7168.0 * 7168.0;
  const OpCost c = p.model->price(gemm(1, 7168, 7168, DType::kFP8), Flops{f}, d);
  // 51,414,496 B / (3.35 TB/s x 0.90 x 0.82 = 2.472 TB/s) = 20.80 us.
  CHECK(c.memory_time == ceil_duration(static_cast<double>(d.base()) / gemm_bw(p)));
  // Compute: 1 x 56 tiles, under one wave, so one useful row of a 64-row MMA, u = 1/64:
  // 1.03e8 / (1979 T x 0.709 / 64) = 4.69 us, plus a 14,336 B store (5 ns).
  const double rate = peak(p.gpu, DType::kFP8) * *p.params.gemm_compute.get(DType::kFP8) / 64.0;
  CHECK(c.compute_time == ceil_duration(f / rate + 14'336.0 / stream_bw(p)));
  CHECK(c.bound == Bound::kMemory);
  CHECK(c.time == c.memory_time + p.params.launch_gap);
}

TEST_CASE("every op takes at least its launch overhead") {
  const Priced p = roofline("h100");
  // A 1 KiB memory op: 1024 B / 3.015 TB/s = 0.34 ns of work, 2 us of launch: overhead-bound.
  llm::MemoryOp tiny;
  tiny.read = bytes(1024);
  const OpCost c = p.model->price(tiny, Flops{0.0}, bytes(1024));
  CHECK(c.bound == Bound::kOverhead);
  CHECK(c.time >= c.overhead);
  CHECK(c.overhead == p.params.launch_gap);
  CHECK(c.compute_time == Duration::zero());
  // Nothing to do at all still costs exactly the launch gap.
  const OpCost empty = p.model->price(llm::MemoryOp{}, Flops{0.0}, bytes(0));
  CHECK(empty.time == p.params.launch_gap);
  CHECK(empty.bound == Bound::kOverhead);
  // Whatever the shape, time >= overhead and time >= kernel time.
  for (std::int64_t m : {1, 7, 64, 300, 4096}) {
    const llm::GemmOp g = gemm(m, 2048, 512, DType::kBF16);
    const OpCost gc = p.model->price(op_of(g));
    CHECK(gc.time >= gc.overhead);
    CHECK(gc.time >= gc.kernel_time());
  }
}

TEST_CASE("without CUDA graphs the host launch shows only when it exceeds the kernel") {
  ComputeOptions eager;
  eager.cuda_graphs = false;
  const Priced p = roofline("h100", eager);
  // A 1 KiB op: the GPU side is 2 us, the host needs 5 us to issue it: time = 5 us.
  llm::MemoryOp tiny;
  tiny.read = bytes(1024);
  const OpCost small = p.model->price(tiny, Flops{0.0}, bytes(1024));
  CHECK(small.host_time == p.params.host_launch);
  CHECK(small.time == p.params.host_launch);
  CHECK(small.bound == Bound::kOverhead);
  // A 1 GB copy (1e9 B / 3.015 TB/s = 332 us) hides the 5 us host launch behind the GPU.
  llm::MemoryOp big;
  big.read = bytes(1'000'000'000);
  const OpCost large = p.model->price(big, Flops{0.0}, bytes(1'000'000'000));
  CHECK(large.time == large.memory_time + large.overhead);
  CHECK(large.bound == Bound::kMemory);
}

TEST_CASE("FP4 compute is rejected on Hopper and accepted on Blackwell") {
  const llm::GemmOp g = gemm(4096, 4096, 4096, DType::kFP4);
  const Priced h100 = roofline("h100");
  try {
    (void)h100.model->price(op_of(g));
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "peak_dense.fp4");
    CHECK(std::string(e.what()).find("h100") != std::string::npos);
    CHECK(std::string(e.what()).find("supported compute type") != std::string::npos);
  }
  const Priced b200 = roofline("b200");
  CHECK(b200.model->price(op_of(g)).bound == Bound::kCompute);
  // A type the GPU runs but the efficiency file has no figure for (INT8 on Hopper) is a
  // ConfigError too, naming the missing key: no silent default.
  try {
    (void)h100.model->price(op_of(gemm(4096, 4096, 4096, DType::kINT8)));
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "archs.hopper.gemm.compute.int8");
  }
}

TEST_CASE("decode attention is memory-bound and prefill attention compute-bound") {
  const Priced p = roofline("h100");
  // DeepSeek MLA decode under TP8: 16 heads, latent 512 + 64 rope, BF16 KV, 32 sequences
  // of 4,096 tokens. Per key: 2 x 16 x (576 + 512) = 34,816 FLOP (padded 16 -> 64 rows) against
  // 1,152 B: memory-bound.
  llm::AttentionOp decode;
  decode.kernel = llm::AttentionKernel::kMlaAbsorbed;
  decode.heads = 16;
  decode.kv_heads = 1;
  decode.qk_dim = 576;
  decode.v_dim = 512;
  decode.q_lens.assign(32, 1);
  decode.kv_lens.assign(32, 4096);
  const llm::Op d_op = op_of(decode);
  const OpCost dc = p.model->price(d_op);
  CHECK(dc.bound == Bound::kMemory);
  CHECK(dc.memory_time ==
        ceil_duration(static_cast<double>(d_op.min_bytes().base()) / stream_bw(p)));
  // Prefill, MLA expanded: 128 heads, qk 192, v 128, one 8,192-token causal sequence.
  llm::AttentionOp prefill;
  prefill.kernel = llm::AttentionKernel::kMlaExpanded;
  prefill.heads = 128;
  prefill.kv_heads = 128;
  prefill.qk_dim = 192;
  prefill.v_dim = 128;
  prefill.q_lens = {8192};
  prefill.kv_lens = {8192};
  const llm::Op p_op = op_of(prefill);
  const OpCost pc = p.model->price(p_op);
  CHECK(pc.bound == Bound::kCompute);
  // FlashAttention-3 fraction (0.75 of 989.4 TFLOP/s), no row padding (8,192 rows per head).
  const double rate = peak(p.gpu, DType::kBF16) * *p.params.attention_compute.get(DType::kBF16);
  CHECK(pc.compute_time == ceil_duration(p_op.flops().base() / rate));
}

TEST_CASE("more tokens are never faster and more bytes are never faster") {
  for (const char* gpu : {"h100", "gb200"}) {
    CAPTURE(gpu);
    const Priced p = roofline(gpu);
    // Dense FP8 GEMM, N = 7168, K = 2048, M = 1 .. 1024 and then up to 16,384.
    Duration last{0};
    for (std::int64_t m = 1; m <= 16384; m += (m < 1024 ? 1 : 61)) {
      const OpCost c = p.model->price(op_of(gemm(m, 7168, 2048, DType::kFP8)));
      CHECK(c.time >= last);
      last = c.time;
    }
    // Grouped GEMM: 32 experts, one token added at a time in a scattered order.
    llm::GroupedGemmOp g;
    g.tokens_per_expert.assign(32, 0);
    g.n = 4096;
    g.k = 7168;
    last = Duration::zero();
    for (int i = 0; i < 3000; ++i) {
      g.tokens_per_expert[static_cast<std::size_t>((i * 7) % 32)] += 1;
      const OpCost c = p.model->price(op_of(g));
      CHECK(c.time >= last);
      last = c.time;
    }
    // Attention: a longer context is never faster.
    llm::AttentionOp a;
    a.kernel = llm::AttentionKernel::kMlaAbsorbed;
    a.heads = 128;
    a.kv_heads = 1;
    a.qk_dim = 576;
    a.v_dim = 512;
    a.q_lens = {1, 1};
    last = Duration::zero();
    for (std::int32_t kv = 1; kv <= 65536; kv *= 2) {
      a.kv_lens = {kv, kv};
      const OpCost c = p.model->price(op_of(a));
      CHECK(c.time >= last);
      last = c.time;
    }
    // Memory ops: more bytes are never faster.
    last = Duration::zero();
    for (std::int64_t b = 0; b <= (1LL << 34); b = b * 3 + 1) {
      const OpCost c = p.model->price(llm::MemoryOp{}, Flops{0.0}, bytes(b));
      CHECK(c.time >= last);
      last = c.time;
    }
  }
}

/// A network stand-in: 10 us per member of the group.
class FakePricer final : public CollectivePricer {
 public:
  Duration collective_time(const llm::CollectiveOp&, const llm::CommGroup& group) const override {
    return microseconds(10) * static_cast<std::int64_t>(group.ranks.size());
  }
};

TEST_CASE("collectives are delegated to the network's pricer, never priced as compute") {
  const Priced p = roofline("h100");
  llm::StepPlan plan;
  plan.groups.push_back(llm::CommGroup{"tp", {0, 1, 2, 3, 4, 5, 6, 7}});
  llm::CollectiveOp ar;
  ar.kind = llm::CollectiveKind::kAllReduce;
  ar.group = 0;
  ar.bytes = mebibytes(1);
  const llm::Op op = op_of(ar);
  const OpCost c = p.model->price(op, plan, FakePricer{});
  // 8 members x 10 us.
  CHECK(c.time == microseconds(80));
  CHECK(c.bound == Bound::kNetwork);
  CHECK(c.overhead == Duration::zero());
  // Non-collectives go through the same entry point to the roofline.
  const llm::Op g = op_of(gemm(64, 4096, 4096, DType::kBF16));
  CHECK(p.model->price(g, plan, FakePricer{}).time == p.model->price(g).time);
  // Without a pricer a collective is a programming error.
  CHECK_THROWS_AS((void)p.model->price(op), InvariantError);
}

TEST_CASE("per-step host overhead applies only without an overlap scheduler") {
  const Priced overlapped = roofline("h100");
  CHECK(overlapped.model->step_host_overhead(milliseconds(30)) == Duration::zero());
  ComputeOptions no_overlap;
  no_overlap.overlap_scheduler = false;
  const Priced serial = roofline("h100", no_overlap);
  // step_host_fraction 0.10 (SGLang v0.4: 1.1x from hiding it) x 30 ms = 3 ms.
  CHECK(serial.model->step_host_overhead(milliseconds(30)) ==
        ceil_duration(serial.params.step_host_fraction * 0.030));
}

}  // namespace
}  // namespace moesim::cost
