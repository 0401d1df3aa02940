#pragma once
/// \file
/// The registry of compute models: each implementation in sim/cost/impl/ registers its name,
/// a one-line description, the parameters it reads (name, type, unit, default, doc, source)
/// and a factory. register_builtin() adds the built-in ones; the CLI calls it explicitly (no
/// static self-registration, STYLE.md). YAML chooses a model with `impl: roofline`.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/cost/efficiency.hpp"
#include "sim/hw/gpu.hpp"

namespace moesim::cost {

/// One parameter an implementation reads, for "did you mean" and `moesim explain`.
struct ParamDoc {
  std::string_view name;           ///< key path in the efficiency YAML, e.g. "gemm.compute.<dtype>"
  std::string_view type;           ///< "fraction", "duration", "count", ...
  std::string_view unit;           ///< unit of the value, or "-" for pure numbers
  std::string_view default_value;  ///< where the default comes from, or "required"
  std::string_view doc;            ///< one line
  std::string_view source;         ///< where the default figures and their sources live
};

/// Builds a model for one GPU from resolved efficiency parameters.
using ComputeModelFactory = std::unique_ptr<ComputeModel> (*)(const hw::GpuSpec& gpu,
                                                              const EfficiencyParams& params,
                                                              const ComputeOptions& options);

/// One registered implementation.
struct ComputeModelEntry {
  std::string_view name;  ///< the `impl:` value
  std::string_view doc;   ///< one line
  std::span<const ParamDoc> params;
  ComputeModelFactory make = nullptr;
};

/// Compute models by name. A value (no global instance); registration order is kept.
class ComputeModelRegistry {
 public:
  /// Adds `entry`. A second entry of the same name, or one without a factory, is an invariant
  /// violation.
  void add(const ComputeModelEntry& entry);
  /// The entry named `name`, or nullptr.
  const ComputeModelEntry* find(std::string_view name) const;
  /// The entry named by the scalar `name`: a ConfigError at that node, listing the names and
  /// suggesting the closest one, when none matches.
  const ComputeModelEntry& at(const config::ConfigNode& name) const;
  /// Registered names, in registration order.
  std::vector<std::string> names() const;
  /// find(name)->make(gpu, params, options); an unknown name is an invariant violation (use
  /// at() for names that come from input).
  std::unique_ptr<ComputeModel> make(std::string_view name, const hw::GpuSpec& gpu,
                                     const EfficiencyParams& params,
                                     const ComputeOptions& options = {}) const;

 private:
  std::vector<ComputeModelEntry> entries_;
};

/// Registers the built-in compute models ("roofline").
void register_builtin(ComputeModelRegistry& registry);

}  // namespace moesim::cost
