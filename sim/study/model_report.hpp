#pragma once
/// \file
/// Model report: every figure of one model card with its unit, and what follows from it
/// (parameter counts, KV-cache bytes per token, weight bytes per precision). Nothing here
/// predicts performance.

#include "sim/llm/model.hpp"
#include "sim/study/table.hpp"

namespace moesim::study {

/// One model (columns: field, value): architecture, total and active parameters
/// (llm::count_parameters), KV-cache bytes per token in BF16 and FP8
/// (llm::kv_cache_bytes_per_token, every layer full span) and weight bytes of the main model
/// for the checkpoint and for BF16, FP8 (fp8_block128) and NVFP4 transformer-block linear layers
/// (the classes a scenario's `precision: {weights: <format>}` sets; embedding, output head,
/// router and norms keep the checkpoint's format).
Table model_report(const llm::ModelSpec& model);

}  // namespace moesim::study
