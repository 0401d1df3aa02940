#pragma once
/// \file
/// The compute model: prices one StepPlan op on one GPU. Implementations live in
/// sim/cost/impl/ and are chosen by name through the registry (sim/cost/registry.hpp); the
/// built-in one is "roofline" (sim/cost/impl/roofline.cpp, equations in its opening comment).
///
/// A model is built once per GPU (parameters resolved into plain numbers then) and prices ops
/// without allocating or reading YAML: the serving simulation prices thousands of steps x 61
/// layers x ops.
///
/// Collectives are not compute: they are priced by the network model (sim/hw) through a
/// CollectivePricer that the caller passes in; sim/cost knows nothing of links or routes.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <variant>

#include "sim/core/assert.hpp"
#include "sim/core/units.hpp"
#include "sim/cost/efficiency.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::cost {

/// What limits an op's time.
enum class Bound : std::uint8_t {
  kCompute,   ///< tensor-core work: FLOPs / (peak x efficiency)
  kMemory,    ///< HBM traffic: bytes / (bandwidth x efficiency)
  kOverhead,  ///< kernel launch (GPU gap or host issue) outweighs the kernel itself
  kNetwork,   ///< a collective, priced by the network model
};

/// Lower-case name of a bound, as printed by `moesim explain` ("compute", ...).
constexpr std::string_view to_string(Bound b) {
  switch (b) {
    case Bound::kCompute: return "compute";
    case Bound::kMemory: return "memory";
    case Bound::kOverhead: return "overhead";
    case Bound::kNetwork: return "network";
  }
  return "unknown";
}

/// The price of one op on one GPU. Every component is rounded up to whole picoseconds on its
/// own, so the relations below hold exactly.
struct OpCost {
  /// Time the op occupies its stream: max(kernel_time() + overhead, host_time).
  Duration time{0};
  /// Tensor-core time: FLOPs / (peak x efficiency), plus any output store not overlapped.
  Duration compute_time{0};
  /// HBM time: bytes / (bandwidth x efficiency).
  Duration memory_time{0};
  /// GPU-side launch cost of the kernel, included in `time`.
  Duration overhead{0};
  /// CPU time to issue the kernel (0 with CUDA graphs). It runs ahead of the GPU and only
  /// shows when it exceeds the kernel: time = max(kernel + overhead, host_time).
  Duration host_time{0};
  Bound bound = Bound::kOverhead;
  /// Priced by a calibrated stack outside what its measurements cover: the op's shape lies
  /// outside its family's fitted range, or the stack has no fit for the op's family (the
  /// roofline priced it). Memory ops and collectives are never flagged.
  bool extrapolated = false;

  /// The kernel's own duration, launch excluded: max(compute_time, memory_time). This is what
  /// profilers (e.g. DeepGEMM's kineto benchmark) report.
  Duration kernel_time() const { return std::max(compute_time, memory_time); }
};

/// How the engine launches kernels and schedules steps.
struct ComputeOptions {
  /// Kernels are replayed from CUDA graphs: no per-kernel host launch (host_time = 0).
  bool cuda_graphs = true;
  /// The engine overlaps its CPU scheduler with the GPU (SGLang's zero-overhead scheduler,
  /// TensorRT-LLM's overlap scheduler): no per-step host overhead.
  bool overlap_scheduler = true;
};

/// Prices collectives for a compute model; implemented by the network layer (sim/hw), which
/// owns links, routes and algorithms.
class CollectivePricer {
 public:
  virtual ~CollectivePricer() = default;
  /// Time of `op` over `group` (its global ranks in group order), all members entering
  /// together, latency included.
  virtual Duration collective_time(const llm::CollectiveOp& op,
                                   const llm::CommGroup& group) const = 0;
};

/// Prices StepPlan ops on one GPU. Implementations are immutable after construction and safe
/// to share between threads.
class ComputeModel {
 public:
  virtual ~ComputeModel() = default;

  /// The registered name of the implementation ("roofline").
  virtual std::string_view name() const = 0;
  /// The GPU this model prices for.
  virtual const hw::GpuSpec& gpu() const = 0;

  /// Prices a Gemm, GroupedGemm, Attention or Memory op. `flops` and `bytes` must be the
  /// body's Op::flops() and Op::min_bytes() (callers that cache them avoid recomputing); the
  /// body supplies the shape. A compute type the GPU lacks (FP4 on Hopper) or has no
  /// efficiency figure for is a ConfigError naming the GPU and the type. A CollectiveOp is an
  /// invariant violation: price it with the overload taking a CollectivePricer.
  virtual OpCost price(const llm::OpBody& body, Flops flops, Bytes bytes) const = 0;

  /// Extra wall time per engine step spent on the host (scheduler, sampler) and not hidden
  /// behind `gpu_step_time`: 0 when the engine overlaps its scheduler, else
  /// step_host_fraction x gpu_step_time.
  virtual Duration step_host_overhead(Duration gpu_step_time) const = 0;

  /// Prices `op` with its own FLOPs and bytes. Not for collectives.
  OpCost price(const llm::Op& op) const { return price(op.body, op.flops(), op.min_bytes()); }

  /// Prices any op of `plan`: a collective goes to `collectives` with its communicator
  /// (bound kNetwork, no launch overhead of its own: the pricer includes latency); anything
  /// else to price(op).
  OpCost price(const llm::Op& op, const llm::StepPlan& plan,
               const CollectivePricer& collectives) const {
    if (const auto* c = std::get_if<llm::CollectiveOp>(&op.body)) {
      MOESIM_ASSERT(c->group >= 0 && static_cast<std::size_t>(c->group) < plan.groups.size(),
                    "collective names a communicator group the plan does not have");
      OpCost cost;
      cost.time = collectives.collective_time(*c, plan.groups[static_cast<std::size_t>(c->group)]);
      cost.bound = Bound::kNetwork;
      return cost;
    }
    return price(op);
  }
};

}  // namespace moesim::cost
