#pragma once
/// \file
/// Serving scenarios: one YAML that names the model, the system, the precision, the deployment,
/// speculative decoding, runtime overheads, the workload and the seed. scenario_schema() returns
/// the documentation of every key (printed by `moesim explain --schema`).
///
/// What sim/serve reads itself (deployment budgets, speculative decoding, overheads, workload,
/// seed) is parsed into typed values here. What prices a step (model, system, precision and each
/// pool's parallel plan) is kept as ConfigNodes and handed on to the step-time adapter, which also
/// supplies the KV capacity per instance and the KV bytes per token unless the scenario overrides
/// them.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/serve/engine.hpp"
#include "sim/serve/step_time_model.hpp"
#include "sim/serve/workload.hpp"

namespace moesim::serve {

/// Default KV-cache memory fraction: TensorRT-LLM's KvCacheConfig.free_gpu_memory_fraction
/// default of 0.9 (NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py).
inline constexpr double kDefaultKvMemoryFraction = 0.9;
/// Default tokens per KV block: TensorRT-LLM's KvCacheConfig.tokens_per_block default of 32
/// (NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py).
inline constexpr std::int32_t kDefaultKvBlockSize = 32;

/// Largest deployment.kv_bytes_per_token accepted: 1 GiB, a thousand times the largest models'
/// KV per token (Llama-3.1-405B in BF16: 126 layers x 2 x 8 heads x 128 x 2 B = 504 KiB), and
/// small enough that a prompt of 2^31 tokens holds at most 2^61 bytes (int64 Bytes).
inline constexpr Bytes kMaxKvBytesPerToken = gibibytes(1);

/// Longest fixed-rate KV transfer accepted (latency + the largest prompt's KV bytes /
/// bandwidth), in seconds: a day. No real link is that slow, and it keeps a run's clock far
/// below the 106 days int64 picoseconds hold.
inline constexpr double kMaxKvTransferS = 86400.0;

/// Most GPUs a scenario's deployment may hold in all its pools: 65536, 15 times the largest
/// published case simulated (tests/data/validation/serving/sglang-dsr1-gb200-decode-part1.yaml,
/// 4272 GPUs). Every instance is simulated step by step with its own ranks and state; 100,000
/// decode instances of 8 GPUs exhausted memory. Without deployment.kv_transfer, a disaggregated
/// deployment's KV hand-offs are routed over a cluster of all its GPUs, which holds at most
/// hw::kMaxClusterGpus.
inline constexpr std::int64_t kMaxDeploymentGpus = 65536;

/// One pool of a scenario's deployment.
struct PoolScenario {
  /// Scheduling values; kv_capacity_tokens is 0 until the YAML or the adapter sets it, and
  /// gpus_per_instance = tp x pp.
  PoolConfig pool;
  std::int32_t tp = 1;  ///< GPUs per pipeline stage (attention TP x attention DP)
  std::int32_t ep = 1;  ///< expert-parallel width, divides tp
  std::int32_t pp = 1;  ///< pipeline stages
  double kv_memory_fraction = kDefaultKvMemoryFraction;  ///< of free memory after weights
  bool kv_capacity_given = false;                        ///< the YAML set kv_capacity_tokens
  /// The pool's YAML map, for the adapter (an empty map until parsed).
  config::ConfigNode node = config::ConfigNode::parse("{}", "<unset>");
  std::optional<config::ConfigNode> plan;  ///< the pool's `plan` map, unchecked here
  /// The pool's own `system` (mixed hardware, disaggregated only): a catalog name, path or map
  /// with `name`; absent: the scenario's top-level system.
  std::optional<config::ConfigNode> system;
};

/// Fixed-rate KV transfer parameters (deployment.kv_transfer).
struct KvTransferParams {
  Duration latency{};
  Bandwidth bandwidth{};
};

/// A parsed scenario.
struct Scenario {
  std::string name;  ///< `name`, else the file stem
  std::string description;
  /// The whole document after --set overrides (empty maps until parsed, also below).
  config::ConfigNode root = config::ConfigNode::parse("{}", "<unset>");
  /// Catalog name, path or inline map of the model (for the adapter).
  config::ConfigNode model = config::ConfigNode::parse("{}", "<unset>");
  /// Catalog name, path or map with `name` of the system (for the adapter).
  config::ConfigNode system = config::ConfigNode::parse("{}", "<unset>");
  std::string system_name;  ///< the system's catalog name (price-sheet key)
  /// Catalog name of each pool's system (price-sheet keys): the pool's own `system`, else
  /// system_name. decode_system_name is system_name when aggregated.
  std::string primary_system_name;
  std::string decode_system_name;
  std::optional<config::ConfigNode> precision;  ///< {weights, activations, kv_cache}
  std::string price_sheet;                      ///< price sheet name or path
  std::uint64_t seed = 0;
  bool disaggregated = false;
  PoolScenario primary;  ///< `aggregated`, or `prefill` when disaggregated
  PoolScenario decode;   ///< `decode` (disaggregated only)
  SpecDecodeConfig spec;
  HostOverheadConfig host;
  /// `runtime.scheduler`; absent: the stack's `engine.scheduler` (the step-time adapter fills
  /// it in), else SchedulingConfig's defaults.
  std::optional<SchedulingConfig> scheduling;
  bool cuda_graphs = true;                       ///< for the adapter's launch-overhead model
  std::optional<Bytes> kv_bytes_per_token;       ///< override of the adapter's value
  std::optional<KvTransferParams> kv_transfer;   ///< override of the network's transfers
  std::optional<config::ConfigNode> step_model;  ///< analytic step model replacing the adapter
  /// `stack`: software-stack profile (topologies/stacks/) for the step-time model; absent:
  /// the system's default stack.
  std::optional<config::ConfigNode> stack;
  /// `routing.popularity`: expert popularity for the step-time adapter (absent: uniform).
  std::optional<config::ConfigNode> popularity;
  std::string workload_name;  ///< catalog name or path, or "inline"
  WorkloadSpec workload;
  /// The workload map `workload` was parsed from (presets resolved), for located errors.
  config::ConfigNode workload_node = config::ConfigNode::parse("{}", "<unset>");

  /// The system node of pool `ps` (primary or decode): its own `system`, else the top-level one.
  const config::ConfigNode& system_of(const PoolScenario& ps) const {
    return ps.system ? *ps.system : system;
  }
  /// Mixed hardware: a disaggregated deployment whose prefill and decode pools run on systems
  /// of different catalog names (a pool `system` naming the same system is not mixed).
  bool mixed() const { return disaggregated && primary_system_name != decode_system_name; }

  /// The engine configuration. Throws ConfigError when a pool's KV capacity or (disaggregated)
  /// the KV bytes per token is still unknown, when a value is out of range, or when the
  /// workload's longest request cannot fit one attention-DP rank's KV cache of a pool (the
  /// need Engine::submit checks: input + output + draft tokens in whole KV blocks, input alone
  /// on a prefill pool), at the workload key that asks for it.
  EngineConfig engine_config() const;
  /// Throws ConfigError at deployment.kv_transfer when its fixed rate takes longer than
  /// kMaxKvTransferS for the workload's largest prompt (no-op without kv_transfer or KV bytes).
  void check_kv_transfer_time() const;
};

/// Parses a `scheduler` map (a scenario's runtime.scheduler, a stack's engine.scheduler):
///   dp_routing: least_loaded | round_robin
///   adp_balance: false | {timeout_iters: N, batching_wait_iters: M}
///   prefill_interval: N
///   mixed_batches: true | false
/// Keys left out keep SchedulingConfig's defaults. Errors are ConfigErrors at the key.
SchedulingConfig parse_scheduling(const config::ConfigNode& node);

/// One line naming `s`'s settings, for run notes.
std::string describe(const SchedulingConfig& s);

/// Parses a scenario document (see scenario_schema()). Workloads are resolved in `catalog`
/// section "workloads" (a name, a path, an inline map, or {preset, overrides}). Every error is
/// a ConfigError at its key.
Scenario parse_scenario(const config::ConfigNode& root, const config::Catalog& catalog);

/// Loads a scenario file, applies `settings` ("a.b=value", as `--set`) in order, and parses it.
Scenario load_scenario(const std::filesystem::path& path, std::span<const std::string> settings,
                       const config::Catalog& catalog);

/// Models built from the scenario alone: the analytic step model of `step_model` for every pool
/// and the fixed-rate KV transfer of `deployment.kv_transfer`.
struct ScenarioModels {
  std::unique_ptr<StepTimeModel> primary;
  std::unique_ptr<StepTimeModel> decode;
  std::unique_ptr<KvTransferModel> kv_transfer;
  /// Non-owning view for the engine.
  EngineModels view() const { return {primary.get(), decode.get(), kv_transfer.get()}; }
};

/// Builds ScenarioModels; a ConfigError when the scenario has no `step_model` (or, when
/// disaggregated, no `deployment.kv_transfer`).
ScenarioModels analytic_models(const Scenario& scenario);

/// The documentation of every scenario and workload key, with types, units, defaults and
/// sources, for `moesim explain --schema` and the README.
std::string scenario_schema();

}  // namespace moesim::serve
