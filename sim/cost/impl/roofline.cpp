/// \file
/// The roofline compute model: the time of one kernel is the longer of its tensor-core time and
/// its HBM time, each at a sourced fraction of the datasheet peak that depends on the op's
/// shape, plus the launch cost of the kernel.
///
/// Equations (doubles in seconds, each term rounded up once to whole picoseconds):
///   t_compute = F / (P[c] x e_c[c] x u) + s x O / (B x e_s)
///   t_memory  = D / (B x e_s x e_g)          for Gemm and GroupedGemm
///             = D / (B x e_s)                for Attention and Memory ops
///   kernel    = max(t_compute, t_memory)
///   time      = max(kernel + g, h)           h = 0 with CUDA graphs
/// where
///   F, D   FLOPs and minimum HBM bytes of the op (Op::flops(), Op::min_bytes());
///   c      the op's compute type; P[c] = GpuSpec::peak_dense (a type the GPU lacks, such as
///          FP4 on Hopper, is a ConfigError: the lowering must choose a supported path);
///   e_c[c] fraction of peak reached by large kernels: gemm.compute (MAMF-style best achieved
///          over peak, S2), attention.compute (FlashAttention-3) or, for absorbed-MLA decode,
///          attention.mla_decode_compute (FlashMLA, S55);
///   u      shape utilization (sim/cost/efficiency.hpp): GEMM wave quantization over the SMs
///          with per-SM tiles of gemm.tile, or padding of small M to gemm.mma_m rows when the
///          grid is under one wave; attention query rows padded to mma_m per sequence;
///   s, O   gemm.store_exposed and the GEMM's output bytes: the part of the output store not
///          overlapped with the main loop (1 on Hopper, whose accumulators sit in the math
///          warps' registers; 0 on Blackwell, whose TMEM accumulators let the epilogue overlap);
///          0 for other ops;
///   B, e_s GpuSpec::hbm.bandwidth and hbm_stream (copy/STREAM-class bandwidth, S59, S57, S27);
///   e_g    gemm.memory_vs_stream: weight streaming through a GEMM reaches less than a copy
///          (BF16 GEMV 5-6 TB/s vs ~6.7 TB/s streaming on B200, S61 / S27). Decode GEMMs with
///          M = 1..256 land here: weight bytes over achieved bandwidth, not FLOPs over peak;
///   g      overheads.launch_gap, the GPU-side cost of each kernel (2 us, S56; S74);
///   h      overheads.host_launch, the CPU time to issue a kernel without CUDA graphs
///          (5 us, S72, S74); it runs ahead of the GPU, so it shows only when it exceeds the
///          kernel.
/// Memory ops (norms, activations, routing, sampling) report elementwise FLOPs that are never
/// priced: t_compute = 0. Collectives are priced by the network model (ComputeModel's
/// CollectivePricer overload), never here.
///
/// Bound: kOverhead when h exceeds kernel + g or g exceeds the kernel; else kCompute when
/// t_compute >= t_memory, kMemory otherwise.
///
/// Sources: the figures and their citations are in topologies/efficiency.yaml;
/// hardware-specs.md section 6 (achieved vs peak) and section 8 (suggested defaults);
/// published kernel cases in tests/validation/kernel_validation_test.cpp.

#include "sim/cost/impl/roofline.hpp"

#include <array>
#include <string>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"

namespace moesim::cost::detail {
namespace {

constexpr std::string_view kName = "roofline";

constexpr std::size_t index_of(DType t) { return static_cast<std::size_t>(t); }

/// Effective rates (FLOP/s) per compute type for one kernel family; 0 = not available.
using RateTable = std::array<double, kAllDTypes.size()>;

class RooflineModel final : public ComputeModel {
 public:
  RooflineModel(const hw::GpuSpec& gpu, const EfficiencyParams& params,
                const ComputeOptions& options)
      : gpu_(gpu), params_(params), options_(options) {
    MOESIM_ASSERT(gpu_.sms > 0, "a GPU needs SMs");
    MOESIM_ASSERT(gpu_.hbm.bandwidth.base() > 0.0, "a GPU needs HBM bandwidth");
    for (DType t : kAllDTypes) {
      const std::optional<FlopRate> peak = gpu_.peak_dense.get(t);
      if (!peak) continue;
      const std::size_t i = index_of(t);
      if (auto e = params_.gemm_compute.get(t)) gemm_rate_[i] = peak->base() * *e;
      if (auto e = params_.attention_compute.get(t)) attention_rate_[i] = peak->base() * *e;
      if (auto e = params_.mla_decode_compute.get(t)) mla_rate_[i] = peak->base() * *e;
    }
    stream_bw_ = gpu_.hbm.bandwidth.base() * params_.hbm_stream;
    gemm_bw_ = stream_bw_ * params_.gemm_memory_vs_stream;
    host_ = options_.cuda_graphs ? Duration::zero() : params_.host_launch;
  }

  std::string_view name() const override { return kName; }
  const hw::GpuSpec& gpu() const override { return gpu_; }

  OpCost price(const llm::OpBody& body, Flops flops, Bytes bytes) const override {
    const double f = flops.base();
    const double d = static_cast<double>(bytes.base());
    MOESIM_ASSERT(f >= 0.0 && d >= 0.0, "FLOPs and bytes must be non-negative");
    if (const auto* g = std::get_if<llm::GemmOp>(&body)) return price_gemm(*g, f, d);
    if (const auto* g = std::get_if<llm::GroupedGemmOp>(&body)) return price_grouped(*g, f, d);
    if (const auto* a = std::get_if<llm::AttentionOp>(&body)) return price_attention(*a, f, d);
    if (std::holds_alternative<llm::MemoryOp>(body)) return finish(0.0, d / stream_bw_);
    MOESIM_ASSERT(false,
                  "collectives are priced by the network model: use ComputeModel::price(op, "
                  "plan, CollectivePricer)");
    OpCost none;
    none.bound = Bound::kNetwork;
    return none;
  }

  Duration step_host_overhead(Duration gpu_step_time) const override {
    if (options_.overlap_scheduler) return Duration::zero();
    return ceil_duration(params_.step_host_fraction * to_seconds(gpu_step_time));
  }

 private:
  OpCost price_gemm(const llm::GemmOp& g, double f, double d) const {
    const double rate = rate_of(gemm_rate_, g.compute, "gemm.compute");
    const RowBlocks rows = row_blocks(g.m, g.batch, params_.tile, params_.mma_m);
    return finish(gemm_compute_seconds(f, rate, rows, g.n, g.out_type), d / gemm_bw_);
  }

  OpCost price_grouped(const llm::GroupedGemmOp& g, double f, double d) const {
    const double rate = rate_of(gemm_rate_, g.compute, "gemm.compute");
    const RowBlocks rows = row_blocks(g.tokens_per_expert, params_.tile, params_.mma_m);
    return finish(gemm_compute_seconds(f, rate, rows, g.n, g.out_type), d / gemm_bw_);
  }

  OpCost price_attention(const llm::AttentionOp& a, double f, double d) const {
    const bool mla_decode = a.kernel == llm::AttentionKernel::kMlaAbsorbed;
    const double rate = mla_decode ? rate_of(mla_rate_, a.compute, "attention.mla_decode_compute")
                                   : rate_of(attention_rate_, a.compute, "attention.compute");
    const double compute = f > 0.0 ? f / (rate * attention_row_utilization(a, params_.mma_m)) : 0.0;
    return finish(compute, d / stream_bw_);
  }

  /// F / (rate x u) plus the exposed output store, in seconds.
  double gemm_compute_seconds(double f, double rate, const RowBlocks& rows, std::int64_t n,
                              DType out_type) const {
    if (f <= 0.0) return 0.0;
    const double u = gemm_utilization(rows, n, params_.tile, gpu_.sms);
    const double out_bytes = static_cast<double>(rows.rows) * static_cast<double>(n) *
                             bits_of(out_type) / scale::kBitsPerByte;
    return f / (rate * u) + params_.store_exposed * out_bytes / stream_bw_;
  }

  /// The effective rate of `type` in `table`, or a ConfigError saying why there is none.
  double rate_of(const RateTable& table, DType type, std::string_view key) const {
    const double r = table[index_of(type)];
    if (r > 0.0) return r;
    const std::string t{to_string(type)};
    if (!gpu_.peak_dense.has(type)) {
      throw ConfigError(gpu_.location, "peak_dense." + t,
                        "a GPU whose tensor cores run " + t +
                            " natively (the lowering must pick a supported compute type, e.g. "
                            "FP4 weights dequantized to FP8)",
                        gpu_.name + " (" + std::string(hw::to_string(gpu_.arch)) + ") has no " + t +
                            " entry in peak_dense");
    }
    throw ConfigError(params_.location, params_.key_path + "." + std::string(key) + "." + t,
                      "an efficiency fraction for " + t + " (GPU " + gpu_.name + ")",
                      "none in " + params_.sources);
  }

  OpCost finish(double compute_seconds, double memory_seconds) const {
    OpCost c;
    c.compute_time = ceil_duration(compute_seconds);
    c.memory_time = ceil_duration(memory_seconds);
    c.overhead = params_.launch_gap;
    c.host_time = host_;
    const Duration kernel = c.kernel_time();
    const Duration gpu_side = kernel + c.overhead;
    c.time = std::max(gpu_side, c.host_time);
    if (c.host_time > gpu_side || c.overhead > kernel || kernel == Duration::zero()) {
      c.bound = Bound::kOverhead;
    } else {
      c.bound = c.compute_time >= c.memory_time ? Bound::kCompute : Bound::kMemory;
    }
    return c;
  }

  hw::GpuSpec gpu_;
  EfficiencyParams params_;
  ComputeOptions options_;
  RateTable gemm_rate_{};
  RateTable attention_rate_{};
  RateTable mla_rate_{};
  double stream_bw_ = 0.0;  ///< B/s
  double gemm_bw_ = 0.0;    ///< B/s
  Duration host_{0};
};

std::unique_ptr<ComputeModel> make_roofline(const hw::GpuSpec& gpu, const EfficiencyParams& params,
                                            const ComputeOptions& options) {
  return std::make_unique<RooflineModel>(gpu, params, options);
}

constexpr std::string_view kYaml = "topologies/efficiency.yaml (each figure with its source)";

constexpr std::array<ParamDoc, 12> kParams = {{
    {"gemm.compute.<dtype>", "fraction", "-", "per arch", "large-GEMM fraction of peak_dense",
     kYaml},
    {"gemm.tile.m, gemm.tile.n", "count", "elements", "per arch",
     "per-SM output tile for wave quantization", kYaml},
    {"gemm.mma_m", "count", "rows", "per arch", "tensor-core row granularity (small-M padding)",
     kYaml},
    {"gemm.store_exposed", "fraction [0, 1]", "-", "per arch",
     "share of the output store not overlapped with the main loop", kYaml},
    {"gemm.memory_vs_stream", "fraction", "-", "per arch",
     "GEMM operand streaming bandwidth over streaming bandwidth", kYaml},
    {"attention.compute.<dtype>", "fraction", "-", "per arch",
     "FlashAttention-class fraction of peak_dense", kYaml},
    {"attention.mla_decode_compute.<dtype>", "fraction", "-", "per arch",
     "absorbed-MLA decode fraction of peak_dense", kYaml},
    {"hbm_stream", "fraction", "-", "per arch, per GPU",
     "fraction of hbm.bandwidth reached by streaming kernels", kYaml},
    {"overheads.launch_gap", "duration", "s", "2 us", "GPU-side cost of each kernel", kYaml},
    {"overheads.host_launch", "duration", "s", "5 us",
     "CPU time to issue a kernel without CUDA graphs", kYaml},
    {"overheads.step_host_fraction", "number >= 0", "-", "0.10",
     "unhidden host time per step over GPU step time (no overlap scheduler)", kYaml},
    {"options.cuda_graphs, options.overlap_scheduler", "bool", "-", "true, true",
     "ComputeOptions: launch through CUDA graphs; overlap the scheduler", "engine settings"},
}};

}  // namespace

ComputeModelEntry roofline_entry() {
  return ComputeModelEntry{kName,
                           "max(FLOPs / (peak x eff_c(shape)), bytes / (HBM x eff_m)) + launch",
                           kParams, &make_roofline};
}

}  // namespace moesim::cost::detail
