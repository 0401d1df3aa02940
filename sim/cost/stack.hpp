#pragma once
/// \file
/// Software-stack profiles (topologies/stacks/NAME.yaml): what a serving framework's kernels
/// cost on each GPU (a calibration file written by `moesim calibrate`) and how the engine runs
/// them. The stack `roofline` has no calibration: sourced roofline physics only.
///
///   description: "TensorRT-LLM 1.3.0rc20, PyTorch backend"
///   framework: trtllm
///   version: 1.3.0rc20
///   calibration: calibrated/trtllm-1.3.0rc20.yaml   # relative to this file; optional
///   engine:
///     cuda_graphs: true         # kernels replayed from CUDA graphs (no host launch per kernel)
///     overlap_scheduler: true   # CPU scheduling hidden behind the GPU step
///     all_to_all: per_rank      # MoE dispatch/combine traffic: per_rank (a token once per
///                               # destination rank) or per_token_expert (once per expert);
///                               # or {prefill: ..., decode: ...} per step phase
///     scheduler:                # how the engine batches (parsed by sim/serve:
///       dp_routing: least_loaded  #   serve::parse_scheduling, see scenario_schema())

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/cost/calibration.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/cost/efficiency.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/placement.hpp"

namespace moesim::cost {

/// Catalog section of the stack profiles.
inline constexpr std::string_view kStackSection = "topologies/stacks";
/// The stack with no calibration.
inline constexpr std::string_view kRooflineStack = "roofline";

/// A software-stack profile.
struct StackProfile {
  std::string name;  ///< catalog name or file stem
  std::string description;
  std::string framework;
  std::string version;
  std::optional<Calibration> calibration;  ///< none: roofline physics only
  std::filesystem::path calibration_file;  ///< where `calibration` was read from (empty: none)
  ComputeOptions engine;
  llm::DispatchLayouts all_to_all;  ///< MoE all-to-all traffic layout per step phase
  /// engine.scheduler: the engine's default scheduling, read by the serving engine's parser
  /// (serve::parse_scheduling); absent: the engine's defaults.
  std::optional<config::ConfigNode> scheduler;
  SourceLocation location;
};

/// Loads stack `name_or_path` from `catalog` (section kStackSection). Unknown keys, names and
/// a missing calibration file are ConfigErrors with a did-you-mean. A stack read before (same
/// file, same modification times of it and its calibration) is returned from a cache.
StackProfile load_stack(const config::Catalog& catalog, std::string_view name_or_path);

/// The models of one stack for measured ops, per GPU catalog name, built on first use (what
/// calibrate and validate price measurements with). An unknown GPU is a ConfigError at the
/// measurement.
class StackModels {
 public:
  StackModels(const config::Catalog& catalog, StackProfile stack);
  ~StackModels();
  StackModels(const StackModels&) = delete;
  StackModels& operator=(const StackModels&) = delete;
  /// The models of `m`'s GPU.
  GpuModels operator()(const Measurement& m);
  /// As a lookup for fit_calibration and predict (refers to this object).
  GpuModelLookup lookup() {
    return [this](const Measurement& m) { return (*this)(m); };
  }

 private:
  struct Entry;
  const config::Catalog& catalog_;
  StackProfile stack_;
  EfficiencyTable efficiency_;
  std::vector<std::pair<std::string, std::unique_ptr<Entry>>> entries_;
};

/// The compute model of `stack` on `gpu`: the roofline with `params` and `options`, wrapped by
/// the calibrated model where the stack has a calibration (a GPU it has no fits for gets
/// every family op flagged extrapolated).
std::unique_ptr<ComputeModel> make_stack_model(const StackProfile& stack, const hw::GpuSpec& gpu,
                                               const EfficiencyParams& params,
                                               const ComputeOptions& options);

}  // namespace moesim::cost
