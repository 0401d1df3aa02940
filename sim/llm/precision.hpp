#pragma once
/// \file
/// Precision of a deployment: how each class of weights is stored, which type activations,
/// the KV cache and the MoE communication payloads use, and how a GEMM of each weight class
/// runs on a given GPU (native, or on a supported fallback path that the lowering reports).
///
/// YAML (`precision:` of a scenario; every key optional):
///   weights:     checkpoint | <format> | {default: <format>, <class>: <format>, ...}
///                checkpoint (the default): the model card's checkpoint formats.
///                A single <format> applies to the linear layers of the transformer blocks
///                (attention, dense_ffn, routed_experts, shared_experts); embedding, output_head,
///                router and norms keep the checkpoint's format (as NVIDIA's FP4 checkpoints,
///                which quantize "the linear operators within transformer blocks").
///                A map starts from the checkpoint: `default` replaces those four classes,
///                then each named class (embedding, output_head, attention, dense_ffn,
///                routed_experts, shared_experts, router, norms) is set.
///                <format>: bf16, fp16, fp32, fp8_tensor, fp8_block128, nvfp4, mxfp4, or a
///                common name mapped onto one of them:
///                  fp8  = fp8_block128 (the FP8 checkpoints of DeepSeek-V3/R1 and Qwen3);
///                  fp4  = nvfp4 (NVIDIA's FP4 checkpoints);
///                  int4 = mxfp4 with BF16 activations (W4A16): 4-bit weight-only
///                         quantization (AWQ/GPTQ int4, 4.125 bits per weight with one FP16
///                         scale per 128) modelled by MXFP4 (4.25 bits, one scale per 32);
///                  w4a8 = mxfp4 weights with FP8 activations (TensorRT-LLM's W4A8 MXFP4 x
///                         FP8 MoE); it sets activations to fp8 for every GEMM, and an
///                         explicit `activations:` other than fp8 or auto is an error.
///   activations: auto | bf16 | fp16 | fp8 | fp4. The input type of quantized GEMMs. auto (the
///                default) follows each weight format: fp8_* -> fp8 (W8A8, DeepSeek-V3 recipe),
///                nvfp4 -> fp4 (W4A4, NVIDIA's NVFP4 checkpoints), mxfp4 -> bf16 (W4A16,
///                openai/gpt-oss reference kernels), 16/32-bit formats -> their own type.
///   kv_cache:    bf16 (default) | fp16 | fp8
///   attention:   bf16 (default) | fp8 -- the attention kernel's compute type
///   dispatch:    fp8 (default) | bf16 | fp4 -- MoE dispatch payload (DeepEP, SGLang, TRT-LLM)
///   combine:     bf16 (default) | fp8 -- MoE combine payload
///
/// A GEMM computes at the wider of its weight element type and its activation type (W4A8 at
/// the FP8 rate, W4A16 at the BF16 rate; weights stay in their stored format and are
/// dequantized in the kernel). When the GPU lacks that type (no entry in its dense peaks, e.g.
/// FP4 on Hopper) the GEMM falls back to the next wider type it has (FP4 -> FP8 -> BF16) and
/// resolve_precision() adds a note saying so.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/units.hpp"
#include "sim/llm/model.hpp"

namespace moesim::llm {

/// What the lowering needs to know of the GPU. sim/llm may not depend on sim/hw, so the caller
/// fills this from hw::GpuSpec: {spec.name, spec.peak_dense, spec.hbm.capacity}.
struct TargetGpu {
  std::string name;       ///< catalog name, used in notes ("h200")
  PeakRates peak_dense;   ///< dense tensor-core peaks; a type without an entry is not native
  Bytes hbm_capacity{0};  ///< HBM of one GPU
};

/// Precision choices of a deployment (see the file comment for the YAML form).
struct Precision {
  CheckpointPrecision weights;       ///< storage format per tensor class
  std::optional<DType> activations;  ///< GEMM input type; nullopt = auto (per weight format)
  DType kv_cache = DType::kBF16;     ///< KV-cache element type
  DType attention = DType::kBF16;    ///< attention kernel compute type
  DType dispatch = DType::kFP8;      ///< MoE dispatch payload element type
  DType combine = DType::kBF16;      ///< MoE combine payload element type
};

/// The model card's checkpoint formats, auto activations, BF16 KV cache and attention, FP8
/// dispatch, BF16 combine.
Precision checkpoint_precision(const ModelSpec& model);

/// Reads a `precision:` map (see the file comment); missing keys take checkpoint_precision()
/// values. Unknown keys or values are ConfigErrors with a did-you-mean.
Precision parse_precision(const config::ConfigNode& node, const ModelSpec& model);

/// How the GEMMs of one weight class run.
struct GemmPrecision {
  WeightFormat weights = WeightFormat::kBF16;  ///< storage (bytes read)
  DType activations = DType::kBF16;            ///< input activation type (bytes read)
  DType compute = DType::kBF16;                ///< tensor-core rate the kernel runs at
  DType out = DType::kBF16;                    ///< output type
};

/// A Precision resolved for one GPU.
struct ResolvedPrecision {
  std::array<GemmPrecision, kNumTensorClasses> gemm{};  ///< per tensor class
  DType kv_cache = DType::kBF16;
  DType attention = DType::kBF16;  ///< attention compute after fallback
  DType dispatch = DType::kFP8;
  DType combine = DType::kBF16;
  /// One line per fallback taken, e.g. "h200 has no FP4 tensor cores: nvfp4 routed_experts
  /// weights run as W4A8 (FP4 weights dequantized in the kernel, FP8 activations) at the FP8
  /// rate".
  std::vector<std::string> notes;

  const GemmPrecision& of(TensorClass c) const { return gemm[static_cast<std::size_t>(c)]; }
};

/// Resolves `p` on `gpu`: per class the activation and compute types, with fallbacks to the
/// types `gpu` runs natively (and a note for each). The router's output is FP32 (its logits
/// feed top-k selection in FP32 in DeepSeek-V3's and SGLang's gates); every other GEMM writes
/// BF16.
ResolvedPrecision resolve_precision(const Precision& p, const TargetGpu& gpu);

/// Bytes one token's hidden vector of `hidden` values occupies as a dispatch/combine payload
/// of `type`, scale factors included:
///   bf16/fp16: 2 hidden;
///   fp8: hidden + 4 ceil(hidden/128) (one FP32 scale per 128 values, as DeepEP quantizes
///        dispatch inputs; source: vllm-project/vllm
///        vllm/model_executor/layers/fused_moe/deepep_ll_prepare_finalize.py,
///        DEEPEP_QUANT_BLOCK_SIZE = 128);
///   fp4: ceil(hidden/2) + ceil(hidden/16) (NVFP4 values and one E4M3 scale per 16).
/// Routing metadata (top-k ids and weights) is not included.
Bytes payload_bytes_per_token(std::int64_t hidden, DType type);

}  // namespace moesim::llm
