#pragma once
/// \file
/// Builds the step-time and KV-transfer models of a serving scenario: the analytic test model
/// when the scenario names one (`step_model:`), else the plan-based model that lowers the model
/// to step plans, samples MoE routing and prices every op on the hardware and the network.
/// Disaggregated scenarios move KV caches at the fixed rate of `deployment.kv_transfer` when it
/// is given, else as flows on one cluster holding both pools (sim/step/kv_transfer_network.hpp).

#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/serve/scenario.hpp"

namespace moesim::step {

/// The models of `scenario`, plus notes the lowering made (e.g. "h200 has no FP4 tensor cores:
/// NVFP4 expert weights run as W4A8 at the FP8 rate"). May set KV capacity and KV bytes per
/// token on `scenario` from the memory footprint when the YAML did not give them.
struct BuiltModels {
  serve::ScenarioModels models;
  std::vector<std::string> notes;
};

/// See the file comment. Throws ConfigError for plans that do not fit or are invalid.
BuiltModels build_step_models(serve::Scenario& scenario, const config::Catalog& catalog);

}  // namespace moesim::step
