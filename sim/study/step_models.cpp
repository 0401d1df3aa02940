#include "sim/study/step_models.hpp"

#include "sim/core/error.hpp"

namespace moesim::study {

BuiltModels build_step_models(serve::Scenario& scenario, const config::Catalog& /*catalog*/) {
  if (!scenario.step_model) {
    scenario.root.fail(
        "a `step_model` (the analytic model): the plan-based step-time model that lowers every "
        "step is not connected to `moesim run` yet; use `moesim explain` for one step",
        "a scenario without step_model");
  }
  BuiltModels out;
  out.models = serve::analytic_models(scenario);
  return out;
}

}  // namespace moesim::study
