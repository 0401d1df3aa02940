#pragma once
/// \file
/// `moesim explain`: one engine step of one deployment, op by op. The model is lowered with the
/// plan and a batch, the MoE loads are sampled from the router (seeded), each op is priced by
/// the compute model and each collective by the network, and the step is timed rank by rank.

#include <cstdint>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/llm/parallel_plan.hpp"
#include "sim/study/table.hpp"

namespace moesim::study {

/// Most decode sequences one explained step may hold over all attention-DP replicas (batch x
/// attention_dp): 2^20, 512 times TensorRT-LLM's default max_batch_size of 2048 per replica
/// (NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py), and far below the 2^31 tokens a step
/// the expert dispatch counts. Every sequence is listed and lowered, so `--batch 1000000000`
/// over 72 replicas asked for 72e9 of them and ended in std::bad_alloc.
inline constexpr std::int64_t kMaxExplainSequences = std::int64_t{1} << 20;

/// What to explain.
struct ExplainRequest {
  std::string model = "deepseek-r1";   ///< catalog name or path
  std::string system = "gb200-nvl72";  ///< catalog name or path
  int domains = 1;                     ///< NVLink domains (nodes, racks) in the cluster
  std::string precision_yaml;          ///< YAML map for llm::parse_precision; empty: checkpoint
  llm::ParallelPlan plan = llm::ParallelPlan::attention_dp_ep(72);
  bool decode = true;                       ///< decode step, else a prefill chunk
  std::int32_t batch = 64;                  ///< sequences per attention-DP replica (decode)
  std::int32_t context = 2048;              ///< decode: context per sequence after the step
  std::int32_t chunk = 8192;                ///< prefill: new tokens per replica (one sequence)
  std::string popularity_yaml = "uniform";  ///< YAML for llm::parse_popularity
  bool eplb = true;                         ///< EPLB placement when redundant experts exist
  std::uint64_t seed = 1;
  std::string stack;  ///< software stack (topologies/stacks/); empty: the system's default
};

/// The explanation: a summary, the ops of the slowest rank, and per-rank MoE loads.
struct Explanation {
  std::vector<std::string> notes;  ///< lowering notes (precision fallbacks, ...)
  Table summary{{"figure", "value"}};
  Table ops{
      {"layer", "op", "stream", "GFLOP", "MB", "start_us", "time_us", "bound", "extrapolated"}};
  Table loads{{"ep_rank", "tokens", "active_experts", "max_expert_tokens"}};
};

/// Explains one step (see the file comment). Throws ConfigError for invalid input, among it a
/// --chunk or --context beyond the model's context length and a decode batch of more than
/// kMaxExplainSequences over the replicas, before anything is allocated.
Explanation explain_step(const config::Catalog& catalog, const ExplainRequest& request);

}  // namespace moesim::study
