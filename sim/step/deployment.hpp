#pragma once
/// \file
/// One deployment assembled for step pricing: the model, the system, the precision, the
/// parallel plan, the lowering, the expert popularity, the compute model and the network. Built
/// once and shared by every step priced on it (`moesim run`'s plan-based step model).

#include <cstdint>
#include <memory>
#include <optional>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/cost/stack.hpp"
#include "sim/hw/system.hpp"
#include "sim/llm/expert_popularity.hpp"
#include "sim/llm/lowering.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/parallel_plan.hpp"
#include "sim/llm/precision.hpp"
#include "sim/llm/sampled_loads.hpp"
#include "sim/step/network_context.hpp"

namespace moesim::step {

/// Everything a step of one deployment is priced with. Not copyable or movable (the network
/// context refers to itself); hold it by pointer.
struct Deployment {
  llm::ModelSpec model;
  hw::SystemSpec system;
  llm::Precision precision;
  llm::ParallelPlan plan;
  int domains = 1;  ///< NVLink domains the deployment spans (ceil(plan GPUs / domain size))
  std::unique_ptr<llm::Lowering> lowering;
  /// Expert popularity (uniform routing); set for MoE models only.
  std::optional<llm::ExpertPopularity> popularity;
  /// Routers, placements (EPLB when the plan has redundant experts, else contiguous) and
  /// dispatch models of the MoE layers under this plan; set for MoE models only.
  std::shared_ptr<const llm::RoutingTables> routing;
  /// The stack's compute model: calibrated kernel families over the roofline with catalog
  /// efficiencies (the roofline alone for the stack `roofline`).
  std::unique_ptr<cost::ComputeModel> compute;
  std::string stack;  ///< name of the software stack that prices the kernels
  std::unique_ptr<NetworkContext> network;
};

/// The model of a scenario's `model:` node: a catalog name or path (scalar) or an inline map.
llm::ModelSpec load_model_node(const config::Catalog& catalog, const config::ConfigNode& node);
/// The system of a scenario's `system:` node: a catalog name or path, or a map.
hw::SystemSpec load_system_node(const config::Catalog& catalog, const config::ConfigNode& node);

/// The software stack a deployment of `system` uses: `stack` (a scenario's `stack:` node,
/// catalog name or path) when given, else the system's default.
cost::StackProfile resolve_stack(const config::Catalog& catalog, const hw::SystemSpec& system,
                                 const std::optional<config::ConfigNode>& stack);

/// Assembles a deployment of `model` on `system` under `plan` (validated by the lowering: a
/// ConfigError when it does not fit the GPUs of the domains it spans) and `precision`; the
/// compute model is `stack`'s with `options` (CUDA graphs, overlap scheduler), each on only
/// where the stack's engine does it too. `domains` NVLink domains of the system are built; 0
/// takes as many as the plan needs.
std::unique_ptr<Deployment> make_deployment(
    const config::Catalog& catalog, llm::ModelSpec model, hw::SystemSpec system,
    llm::Precision precision, llm::ParallelPlan plan, const cost::StackProfile& stack,
    const cost::ComputeOptions& options, int domains = 0,
    const std::optional<config::ConfigNode>& popularity = std::nullopt);

}  // namespace moesim::step
