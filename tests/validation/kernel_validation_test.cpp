// Validation of the roofline compute model against every published kernel case of
// data/published/cases.yaml in categories kernel_gemm and kernel_attention (DeepGEMM, FlashMLA,
// cuBLASLt), numbers copied below with their case ids. Prints a table (case, predicted,
// published, error) and asserts a per-case error bound; every bound above 10% says why.
//
// Independence. The model's defaults (topologies/efficiency.yaml) come from general figures:
// MAMF best-achieved fractions (S2), streaming bandwidth (S59, S57, S27), GEMV vs streaming
// (S61 / S27), vLLM's Blackwell GEMMs (S58), FlashAttention-3, launch costs (S56, S72, S74).
// Two defaults had no source but a case here; those rows say "USED FOR DEFAULT" and are not
// independent checks: the FlashMLA compute-bound figure (attention.mla_decode_compute) and the
// cuBLASLt FP4 GB200 plateau (blackwell gemm.compute.fp4, its best point, 16,384^3). FlashMLA's
// memory-bound figure is "partly" independent: the Hopper streaming default cites S59's copy
// benchmarks, and S55 (this case) reports the same 90%.
//
// How each source times its kernels, and what is compared:
//  - DeepGEMM (deepseek-ai/DeepGEMM README @55ab91f, H800, NVCC 12.8): kernel durations from
//    the profiler (its bench_kineto), so the prediction compared is OpCost::kernel_time()
//    (launch excluded). TFLOPS = 2 M N K / t.
//  - FlashMLA (deepseek-ai/FlashMLA README and docs/20250422-new-kernel-deep-dive.md, H800):
//    "up to 3000 GB/s" memory-bound and 660 TFLOPS compute-bound; the source gives no shape,
//    so we take batch 128 x 8,192 tokens of context (a long, memory-bound decode), s_q = 1,
//    h_q = 16 (memory-bound, TP8) or 128 (compute-bound), d_k 576, d_v 512, BF16. Bytes and
//    FLOPs in FlashMLA's own convention, which equals Op::min_bytes() / Op::flops().
//  - cuBLASLt (Azure/AI-benchmarking-guide Azure_Results/ND_H200_v5_results.md and
//    ND_GB200_v6_results.md, via microsoft/superbenchmark cublaslt_gemm): CUDA events around a
//    loop of eager cublasLtMatmul calls, FP8 in, FP16 out; TFLOPS = m n (2k - 1) / t. Compared
//    with OpCost::time of a model without CUDA graphs (host launch may show at small sizes).
//    The main value of each case is its 16,384^3 point; the other sizes are the case's
//    `derived.by_size_tflops`.
//
// GPUs. H800 = H100 SXM5 compute and memory (132 SMs, 989.4 BF16 / 1,979 FP8 TFLOP/s dense,
// HBM3 3.35 TB/s; hardware-specs.md section 6, S55), NVLink cut to 400 GB/s bidirectional
// (S65; irrelevant here). It throttles to ~1.6 GHz under sustained load (S55), but no clock
// override is applied: the efficiency fractions are achieved / datasheet peak measured under
// sustained load (MAMF, S2), so the throttle is already inside them. H200 and GB200 are the
// catalog entries.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/cost/efficiency.hpp"
#include "sim/cost/registry.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

/// What the source's timing includes.
enum class Timing {
  kKernel,     ///< profiler kernel duration: compare kernel_time()
  kEagerLoop,  ///< events around eager launches: compare time without CUDA graphs
};

/// One published figure and how to predict it.
struct KernelCase {
  std::string id;          ///< cases.yaml id (" @ size" for a derived by-size point)
  std::string gpu;         ///< "h800", "h200", "gb200"
  llm::OpBody body;        ///< the kernel as a StepPlan op
  double numerator = 0;    ///< FLOPs or bytes in the source's own convention
  bool bandwidth = false;  ///< metric is GB/s (numerator in bytes), else TFLOPS
  Timing timing = Timing::kKernel;
  double published = 0;    ///< the source's figure (TFLOPS or GB/s)
  double tolerance = 0;    ///< asserted bound on |predicted / published - 1|; < 0: not asserted
  std::string_view basis;  ///< "independent", "partly", "USED FOR DEFAULT"
};

constexpr double kTera = 1e12;
constexpr double kGiga = 1e9;

llm::GemmOp fp8_gemm(std::int64_t m, std::int64_t n, std::int64_t k) {
  llm::GemmOp g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a_type = DType::kFP8;
  g.b_format = llm::WeightFormat::kFP8Block128;  // DeepGEMM 1x128 / 128x128 scaling
  g.out_type = DType::kBF16;
  g.compute = DType::kFP8;
  return g;
}

llm::GroupedGemmOp fp8_grouped(int groups, std::int32_t m_per_group, std::int64_t n,
                               std::int64_t k) {
  llm::GroupedGemmOp g;
  g.tokens_per_expert.assign(static_cast<std::size_t>(groups), m_per_group);
  g.n = n;
  g.k = k;
  return g;  // FP8 block-128 weights, FP8 activations, BF16 out: the op's defaults
}

llm::GemmOp cublaslt_gemm(std::int64_t size, DType type) {
  llm::GemmOp g;
  g.m = g.n = g.k = size;
  g.a_type = type;
  g.b_format = type == DType::kFP4 ? llm::WeightFormat::kNVFP4 : llm::WeightFormat::kFP8Tensor;
  g.out_type = DType::kFP16;  // superbench cublaslt_gemm: fp8e4m3 in, fp16 out
  g.compute = type;
  return g;
}

llm::AttentionOp flashmla_decode(std::int32_t heads) {
  llm::AttentionOp a;
  a.kernel = llm::AttentionKernel::kMlaAbsorbed;
  a.heads = heads;
  a.kv_heads = 1;
  a.qk_dim = 576;
  a.v_dim = 512;
  a.q_lens.assign(128, 1);
  a.kv_lens.assign(128, 8192);
  return a;
}

/// FlashMLA's byte count: (b s_k d + b s_q h_q d) x 2 + b s_q h_q d_v x 2.
double flashmla_bytes(std::int32_t heads) {
  return (128.0 * 8192.0 * 576.0 + 128.0 * heads * 576.0) * 2.0 + 128.0 * heads * 512.0 * 2.0;
}

/// FlashMLA's FLOP count: 2 b s_q h_q s_k (d + d_v).
double flashmla_flops(std::int32_t heads) { return 2.0 * 128.0 * heads * 8192.0 * (576.0 + 512.0); }

std::vector<KernelCase> published_cases() {
  std::vector<KernelCase> c;
  const auto dg = [&c](std::string id, std::int64_t m, std::int64_t n, std::int64_t k,
                       double tflops, double tol) {
    c.push_back({std::move(id), "h800", fp8_gemm(m, n, k),
                 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k),
                 false, Timing::kKernel, tflops, tol, "independent"});
  };
  // Small-M DeepGEMM shapes are memory-bound (decode). Their HBM efficiency is the GEMV /
  // streaming ratio of S61 / S27, which spans 0.75-0.90 in that source (+-9% around the 0.82
  // used): bound 15%.
  dg("deepgemm-fp8-h800-m64-n7168-k2048", 64, 7168, 2048, 295.0, 0.15);
  dg("deepgemm-fp8-h800-m128-n4096-k7168", 128, 4096, 7168, 533.0, 0.15);
  // N = 2112 with K = 7168 at M = 64: 17 output tiles of 128 columns for 132 SMs; to fill the
  // SMs DeepGEMM cuts N into narrow blocks, and every block re-reads all of A (64 x 7168) from
  // L2, so the kernel is L2-bound at ~1.7 TB/s of HBM-equivalent traffic. The model has no L2
  // term (no sourced L2 bandwidth in hardware-specs.md) and predicts the HBM bound: +46%.
  // Bound 50%, a known limitation.
  dg("deepgemm-fp8-h800-m64-n2112-k7168", 64, 2112, 7168, 206.0, 0.50);
  // Large, compute-bound shapes: MAMF FP8 fraction, wave quantization, exposed output store.
  dg("deepgemm-fp8-h800-m4096-n7168-k16384", 4096, 7168, 16384, 1426.0, 0.10);
  dg("deepgemm-fp8-h800-m4096-n4096-k7168", 4096, 4096, 7168, 1265.0, 0.10);
  dg("deepgemm-fp8-h800-m4096-n7168-k2048", 4096, 7168, 2048, 1168.0, 0.10);
  // Masked grouped GEMM, 4 experts x 256 tokens (decode): compute 47 us and memory 55 us are
  // within 20% of each other, at the knee of the roofline, where the kernel overlaps the two
  // imperfectly and max() is optimistic (+20%). Bound 25%.
  c.push_back({"deepgemm-fp8-h800-grouped-masked-4x256", "h800", fp8_grouped(4, 256, 4096, 7168),
               2.0 * 4 * 256 * 4096 * 7168, false, Timing::kKernel, 932.0, 0.25, "independent"});
  c.push_back({"deepgemm-fp8-h800-grouped-contig-4x8192", "h800", fp8_grouped(4, 8192, 4096, 7168),
               2.0 * 4 * 8192 * 4096 * 7168, false, Timing::kKernel, 1346.0, 0.10, "independent"});
  // FlashMLA decode on H800.
  c.push_back({"flashmla-h800-decode (memory-bound)", "h800", flashmla_decode(16),
               flashmla_bytes(16), true, Timing::kKernel, 3000.0, 0.10, "partly"});
  c.push_back({"flashmla-h800-decode (compute-bound 660)", "h800", flashmla_decode(128),
               flashmla_flops(128), false, Timing::kKernel, 660.0, 0.10, "USED FOR DEFAULT"});
  // cuBLASLt square GEMMs (Azure ND H200 v5 / ND GB200 v6).
  struct Series {
    std::string id;
    std::string gpu;
    DType type;
    std::map<std::int64_t, double> tflops;
    std::string_view basis;
  };
  const std::vector<Series> series = {
      {"cublaslt-fp8-h200-square",
       "h200",
       DType::kFP8,
       {{1024, 290.8},
        {2048, 1013.4},
        {4096, 1249.1},
        {8192, 1300.6},
        {16384, 1366.3},
        {32768, 1349.5}},
       "independent"},
      {"cublaslt-fp8-gb200-square",
       "gb200",
       DType::kFP8,
       {{1024, 489.2},
        {2048, 2243.6},
        {4096, 2834.6},
        {8192, 2876.6},
        {16384, 2906.9},
        {32768, 2825.6}},
       "independent"},
      {"cublaslt-fp4-gb200-square",
       "gb200",
       DType::kFP4,
       {{1024, 287.2},
        {2048, 1677.7},
        {4096, 5177.3},
        {8192, 7535.6},
        {16384, 7627.6},
        {32768, 7487.2}},
       "USED FOR DEFAULT"},
  };
  for (const Series& s : series) {
    for (const auto& [size, tflops] : s.tflops) {
      double tol = 0.10;
      if (size == 2048 && s.type == DType::kFP8) {
        // 2 waves of 128 x 128 tiles on 148 SMs at 2048^3 (87% full): the wave quantization
        // step is coarse here and cuBLASLt's tile choice may differ. Bound 15%.
        tol = 0.15;
      } else if (size == 1024 && s.type == DType::kFP8) {
        // A 1024^3 FP8 GEMM is ~1 us of work: the eager loop is bound by the host's
        // cublasLtMatmul call (7.4 us per call on the H200's Xeon, 4.4 us on GB200's Grace)
        // against our 5 us host_launch (S72, S74). Bound 50%.
        tol = 0.50;
      } else if (s.type == DType::kFP4 && size == 4096) {
        // FP4 reaches its plateau only at 8192^3 (5,177 vs 7,536 TFLOPS), a drop the 128 x 128
        // wave model does not produce (larger FP4 tiles or per-tile scale-factor handling
        // would); +31%. Bound 35%.
        tol = 0.35;
      } else if (s.type == DType::kFP4 && size <= 2048) {
        // Not asserted: at 2048^3 cuBLASLt FP4 takes 10.2 us against 7.7 us for FP8 on the
        // same GPU and benchmark, despite twice the peak; at 1024^3 7.5 us against 4.4 us.
        // That is kernel selection or extra per-call work, not a roofline effect: no model
        // whose FP4 rate is at least its FP8 rate can match it.
        tol = -1.0;
      }
      const double s3 = static_cast<double>(size);
      c.push_back({s.id + " @ " + std::to_string(size), s.gpu, cublaslt_gemm(size, s.type),
                   s3 * s3 * (2.0 * s3 - 1.0), false, Timing::kEagerLoop, tflops, tol, s.basis});
    }
  }
  return c;
}

/// Catalog GPUs plus the H800 (H100 with its NVLink cut, see the file comment).
hw::GpuSpec gpu_named(const config::Catalog& catalog, const std::string& name) {
  if (name != "h800") return hw::load_gpu(catalog, name);
  hw::GpuSpec h800 = hw::load_gpu(catalog, "h100");
  h800.name = "h800";
  h800.description = "NVIDIA H800 SXM5 (H100 compute and HBM3, NVLink 400 GB/s bidirectional)";
  h800.nvlink.bandwidth_per_direction = gigabytes_per_second(200.0);  // S65
  return h800;
}

TEST_CASE("predicted kernel times match every published DeepGEMM, FlashMLA and cuBLASLt case") {
  const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
  const EfficiencyTable table = EfficiencyTable::load(catalog);
  ComputeModelRegistry registry;
  register_builtin(registry);
  ComputeOptions eager;
  eager.cuda_graphs = false;

  std::printf(
      "\nKernel validation: roofline model vs published figures (data/published/cases.yaml)\n");
  std::printf("%-52s %-6s %-8s %10s %10s %-7s %8s %7s  %s\n", "case", "gpu", "bound", "predicted",
              "published", "unit", "error", "bound", "basis");
  int asserted = 0;
  for (const KernelCase& k : published_cases()) {
    const hw::GpuSpec gpu = gpu_named(catalog, k.gpu);
    const EfficiencyParams params = table.resolve(gpu);
    const bool graphs = k.timing == Timing::kKernel;
    const auto model = registry.make("roofline", gpu, params, graphs ? ComputeOptions{} : eager);
    llm::Op op;
    op.name = "validation";
    op.body = k.body;
    const OpCost cost = model->price(op);
    const Duration t = graphs ? cost.kernel_time() : cost.time;
    const double rate = k.numerator / to_seconds(t) / (k.bandwidth ? kGiga : kTera);
    const double error = rate / k.published - 1.0;
    char bound[16];
    if (k.tolerance >= 0.0) {
      std::snprintf(bound, sizeof bound, "%.0f%%", k.tolerance * 100.0);
    } else {
      std::snprintf(bound, sizeof bound, "none");
    }
    std::printf("%-52s %-6s %-8s %10.1f %10.1f %-7s %+7.1f%% %7s  %s\n", k.id.c_str(),
                k.gpu.c_str(), std::string(to_string(cost.bound)).c_str(), rate, k.published,
                k.bandwidth ? "GB/s" : "TFLOPS", error * 100.0, bound,
                std::string(k.basis).c_str());
    if (k.tolerance >= 0.0) {
      CAPTURE(k.id);
      CAPTURE(rate);
      CHECK(std::abs(error) <= k.tolerance);
      ++asserted;
    }
  }
  // 12 cases: 28 rows with FlashMLA's two figures and cuBLASLt's by-size points; all but the
  // two small FP4 points asserted.
  CHECK(asserted == 26);
}

}  // namespace
}  // namespace moesim::cost
