#pragma once
/// \file
/// The per-op measurement schema: one timed GPU operation with its device, software stack,
/// op kind, shape, data types, routing distribution (MoE), measured time and provenance. Every
/// per-op measurement moesim reads comes in as a Measurement: `moesim calibrate` fits the cost
/// model to them and `moesim validate` sets predictions beside them.
///
/// Two file forms are read:
///  - the moesim schema, a CSV whose header holds the columns of kSchemaColumns (any order,
///    '#' comment lines above it for provenance; what hwval writes):
///      gpu        GPU catalog name (h100, h200, b200, gb200, ...)
///      framework  software stack that ran the kernel: trtllm, sglang, hwval, ...
///      version    its version
///      kernel     kernel family or source (torch_flow, deepgemm, cublaslt, ...), may be empty
///      op         gemm | bmm | moe | mla_decode | mla_prefill | gqa_decode | gqa_prefill
///      dtype      gemm, bmm, moe: weight format (bf16, fp8, fp8_block, nvfp4, w4a16_mxfp4,
///                 w4a8_mxfp4); attention: compute type (bf16, fp8)
///      kv_dtype   attention: KV-cache type (bf16, fp8); empty otherwise
///      distribution  moe: balanced (the collectors' deterministic round-robin) or uniform
///                 (SGLang's DeepEP collector: equal loads on the local experts, as its code
///                 sets them); empty otherwise
///      shape      space-separated key=value integers, per op (MeasuredShape):
///                   gemm: m n k; bmm: m n k batch;
///                   moe: tokens hidden inter experts topk ep tp, and optionally groups
///                        topk_groups (a group-limited router, as DeepSeek-V3's: the experts
///                        in `groups` equal groups, a token picks its topk experts within
///                        its best topk_groups groups; both absent or 0: plain top-k);
///                   mla: sequences heads q_len kv_len (q_len 1 for decode);
///                   gqa: the same and kv_heads head_dim
///      median     measured time with its unit ("12.5 us")
///      spread     run-to-run spread with its unit, or empty when unknown
///  - a table of NVIDIA's AIConfigurator performance database (topologies/measured/
///    aiconfigurator/README.md), found by its path <system>/<backend>-<version>/<table>.csv; the
///    columns a file leaves out as constant are read from the manifest.csv of an enclosing
///    folder. Tables read: gemm_perf, moe_perf, generation_mla_perf, context_mla_perf,
///    mla_bmm_perf, generation_attention_perf, context_attention_perf, and SGLang's DeepEP
///    expert compute, wideep_context_moe_perf and wideep_generation_moe_perf (uniform routing;
///    kernel "<op_name>/<kernel_source>", op_name moe_context or moe_generation naming the
///    DeepEP mode). SGLang's moe_perf rows of the DeepSeek-V3 shape (hidden 7168, 256 experts,
///    top-8) are routed by the model's group-limited router, so they read as groups=8
///    topk_groups=4 (sim/cost/kernel_probe.hpp says what that does to balanced routing). The
///    communication tables (nccl_perf, custom_allreduce_perf, ...) are read
///    by sim/cost/comm_measurement.hpp; given here, their rows are left out, counted.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/units.hpp"

namespace moesim::cost {

/// The op kinds a measurement can time; each maps to StepPlan ops (sim/cost/kernel_probe.hpp).
enum class MeasuredOp : std::uint8_t {
  kGemm,        ///< one dense linear layer: [m, k] x [k, n]
  kBmm,         ///< per-head batched GEMMs around MLA decode (absorb projections)
  kMoe,         ///< routed-expert MoE module on one GPU: grouped GEMMs, activation, finalize
  kMlaDecode,   ///< absorbed-MLA decode attention kernel
  kMlaPrefill,  ///< expanded-MLA context attention kernel
  kGqaDecode,   ///< MHA/GQA decode attention kernel
  kGqaPrefill,  ///< MHA/GQA context attention kernel
};

/// Every MeasuredOp, in declaration order.
inline constexpr MeasuredOp kAllMeasuredOps[] = {
    MeasuredOp::kGemm,       MeasuredOp::kBmm,       MeasuredOp::kMoe,       MeasuredOp::kMlaDecode,
    MeasuredOp::kMlaPrefill, MeasuredOp::kGqaDecode, MeasuredOp::kGqaPrefill};

/// Schema name of an op kind ("gemm", "mla_decode", ...).
std::string_view to_string(MeasuredOp op);

/// Shape of a measured op; fields an op kind does not use stay 0 (see the file comment).
struct MeasuredShape {
  std::int64_t m = 0;            ///< gemm, bmm: rows (tokens)
  std::int64_t n = 0;            ///< gemm, bmm: output width
  std::int64_t k = 0;            ///< gemm, bmm: reduction width
  std::int64_t batch = 0;        ///< bmm: independent GEMMs (heads)
  std::int64_t tokens = 0;       ///< moe: tokens entering the layer, routed over all experts
  std::int64_t hidden = 0;       ///< moe: model width
  std::int64_t inter = 0;        ///< moe: expert intermediate width before TP slicing
  std::int64_t experts = 0;      ///< moe: routed experts of the model
  std::int64_t topk = 0;         ///< moe: experts per token
  std::int64_t ep = 0;           ///< moe: expert-parallel width (local experts = experts / ep)
  std::int64_t tp = 0;           ///< moe: expert tensor-parallel width (slices inter)
  std::int64_t groups = 0;       ///< moe: expert groups of a group-limited router; 0: plain top-k
  std::int64_t topk_groups = 0;  ///< moe: groups a token's experts may come from; 0 with groups 0
  std::int64_t sequences = 0;    ///< attention: sequences in the batch
  std::int64_t heads = 0;        ///< attention: query heads on the GPU
  std::int64_t kv_heads = 0;     ///< attention: K/V heads on the GPU (MLA: 1)
  std::int64_t q_len = 0;        ///< attention: new tokens per sequence
  std::int64_t kv_len = 0;       ///< attention: context per sequence, new tokens included
  std::int64_t head_dim = 0;     ///< gqa: per-head width (MLA takes the DeepSeek-V3 geometry)
};

/// One measured op.
struct Measurement {
  std::string gpu;        ///< GPU catalog name
  std::string framework;  ///< "trtllm", "sglang", "hwval", ...
  std::string version;
  std::string kernel;  ///< kernel family or source; may be empty
  MeasuredOp op = MeasuredOp::kGemm;
  std::string dtype;         ///< see the file comment
  std::string kv_dtype;      ///< attention only
  std::string distribution;  ///< moe only
  MeasuredShape shape;
  Duration median{0};    ///< measured time, > 0
  Duration spread{0};    ///< run-to-run spread; 0 when unknown
  SourceLocation where;  ///< the file and line it was read from
};

/// The columns of the moesim schema.
inline constexpr std::string_view kSchemaColumns[] = {
    "gpu",      "framework",    "version", "kernel", "op",    "dtype",
    "kv_dtype", "distribution", "shape",   "median", "spread"};

/// Reads the measurements of one file in either form (file comment). Rows this reader cannot
/// price exactly are left out and counted in `skipped` (with a reason each, once per reason):
/// MoE rows with random routing (power-law draws whose per-expert loads are not recorded),
/// the low-latency NVFP4 MoE path timed without its finalize step. Unknown columns, op kinds,
/// data types, bad numbers or units are ConfigErrors at the file, line and column with a
/// "did you mean".
struct MeasurementFile {
  std::vector<Measurement> rows;
  std::vector<std::string> skipped;  ///< "N rows: reason", one entry per reason
};
MeasurementFile read_measurements(const std::filesystem::path& path);

/// The shape of `m` as the schema's `shape` column writes it ("m=64 n=7168 k=2048").
std::string shape_text(const Measurement& m);

/// Writes `rows` in the moesim schema, `comments` first as '#' lines (provenance).
std::string write_measurements_csv(std::span<const Measurement> rows,
                                   std::span<const std::string> comments);

}  // namespace moesim::cost
