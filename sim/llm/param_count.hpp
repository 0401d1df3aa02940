#pragma once
/// \file
/// Parameter counts, weight bytes and KV-cache bytes of a ModelSpec.
///
/// Every weight tensor of the model is listed once as a TensorGroup (shape, class, how many
/// copies the model holds and how many one token reads); counts and bytes are sums over that list.
///
/// Conventions (models/README.md, "Parameter counts"):
///   total  = every weight of the main model (embedding and output head included, the MTP
///            module excluded; it is reported separately).
///   active = weights one token reads: attention, norms and dense FFN of every layer, router,
///            shared experts, the top-k routed experts of each MoE layer, and the output head.
///            The input embedding is a table lookup and is excluded; `active_with_embedding`
///            adds it back (vendors differ on which of the two they publish).
///   Tied embeddings are counted once, as the output head (so they are active).
///
/// Stored bytes of one rows x cols weight matrix (cols is the contiguous input dimension along
/// which block scales run; n = rows x cols):
///   bf16, fp16: 2n; fp32: 4n
///   fp8_tensor:   n + 4                                        (one FP32 scale per tensor)
///   fp8_block128: n + 4 * ceil(rows/128) * ceil(cols/128)     (one FP32 scale per 128x128
///                 block; deepseek-ai/DeepSeek-V3 README_WEIGHTS.md, "weight_scale_inv")
///   nvfp4: rows * ceil(cols/2) + rows * ceil(cols/16) + 4     (E2M1 pairs per byte, one FP8 E4M3
///          scale per 16 elements, one FP32 per-tensor scale: 4.5 bits per weight; NVIDIA,
///          "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference" (2025),
///          developer.nvidia.com/blog/
///          introducing-nvfp4-for-efficient-and-accurate-low-precision-inference/)
///   mxfp4: rows * ceil(cols/2) + rows * ceil(cols/32)        (one E8M0 scale per 32 elements:
///          4.25 bits per weight; OCP Microscaling Formats (MX) Specification v1.0, concrete
///          format MXFP4: k = 32 E2M1 elements sharing one E8M0 scale,
///          opencompute.org/documents/ocp-microscaling-formats-mx-v1-0-spec-final-pdf;
///          openai/gpt-oss README.md "Precision format")
/// Vectors (norm weights, biases, sinks) are never block-quantized: under an fp8 or fp4 format
/// they are stored in BF16.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/dtype.hpp"
#include "sim/core/units.hpp"
#include "sim/llm/model.hpp"

namespace moesim::llm {

/// One kind of weight tensor and how many copies of it the model holds.
struct TensorGroup {
  std::string name;  ///< e.g. "attn.q_a_proj", "experts.gate_proj", "mtp.eh_proj"
  TensorClass tensor_class = TensorClass::kAttention;
  std::int64_t rows = 0;              ///< output features; 1 for a vector
  std::int64_t cols = 0;              ///< input features (contiguous; block scales run along it)
  std::int64_t instances = 0;         ///< copies held (layers x experts)
  std::int64_t active_instances = 0;  ///< copies one token reads
  bool mtp = false;                   ///< part of the MTP module, not the main model

  bool is_vector() const { return rows == 1; }
  std::int64_t elements() const { return rows * cols; }  ///< of one copy
};

/// Every weight tensor of `m` (main model, then MTP module), grouped by shape.
std::vector<TensorGroup> weight_tensors(const ModelSpec& m);

/// Parameter counts under the conventions above (plain counts, not bytes).
struct ParamCounts {
  std::int64_t total = 0;                  ///< main model, embedding included, MTP excluded
  std::int64_t active = 0;                 ///< per token, input embedding excluded
  std::int64_t embedding = 0;              ///< the input embedding table when untied (else 0)
  std::int64_t active_with_embedding = 0;  ///< active + embedding
  std::int64_t mtp_total = 0;   ///< the MTP module's own weights (shared tables excluded)
  std::int64_t mtp_active = 0;  ///< of those, read per drafted token
  std::array<std::int64_t, kNumTensorClasses> total_by_class{};   ///< main model
  std::array<std::int64_t, kNumTensorClasses> active_by_class{};  ///< main model

  std::int64_t total_of(TensorClass c) const { return total_by_class[static_cast<std::size_t>(c)]; }
  std::int64_t active_of(TensorClass c) const {
    return active_by_class[static_cast<std::size_t>(c)];
  }
};

/// Counts the parameters of `m`.
ParamCounts count_parameters(const ModelSpec& m);

/// Stored bytes of one weight tensor: its elements and its scale factors.
struct TensorBytes {
  Bytes elements{0};
  Bytes scales{0};
  Bytes total() const { return elements + scales; }
};

/// Bytes of one rows x cols tensor in format `f` (formulas in the file comment). A vector
/// (rows == 1) in an fp8/fp4 format is stored in BF16.
TensorBytes tensor_bytes(std::int64_t rows, std::int64_t cols, WeightFormat f);

/// Weight bytes of a model under a per-class precision.
struct WeightBytes {
  Bytes total{0};   ///< main model, scales included
  Bytes scales{0};  ///< of which scale factors
  Bytes mtp{0};     ///< the MTP module, scales included (not in total)
  std::array<Bytes, kNumTensorClasses> by_class{};  ///< main model, scales included

  Bytes of(TensorClass c) const { return by_class[static_cast<std::size_t>(c)]; }
};

/// Bytes of every weight of `m` stored as `precision` says.
WeightBytes weight_bytes(const ModelSpec& m, const CheckpointPrecision& precision);

/// Values one token adds to the KV cache over all layers of the main model:
/// sum over layers of AttentionSpec::kv_values_per_token() (the MTP layer is excluded).
std::int64_t kv_values_per_token(const ModelSpec& m);

/// Bytes one token adds to the KV cache when every layer keeps it (full-attention bound):
/// ceil(kv_values_per_token x bits_of(kv) / 8). Element storage only: the scale factors of a
/// quantized KV cache are not included. DeepSeek-R1: 576 x 61 = 35,136 values, 70,272 B in BF16.
Bytes kv_cache_bytes_per_token(const ModelSpec& m, DType kv);

/// KV-cache bytes of one sequence of `context_tokens` tokens: each layer keeps
/// min(context_tokens, window) tokens when sliding or chunked (the chunked bound is the whole
/// chunk), all of them otherwise. Element storage only, as above. `context_tokens` >= 0.
Bytes kv_cache_bytes(const ModelSpec& m, DType kv, std::int64_t context_tokens);

}  // namespace moesim::llm
