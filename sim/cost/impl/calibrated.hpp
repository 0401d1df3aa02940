#pragma once
/// \file
/// The calibrated compute model (sim/cost/impl/calibrated.cpp).

#include <memory>

#include "sim/cost/calibration.hpp"
#include "sim/cost/compute_model.hpp"
#include "sim/cost/efficiency.hpp"

namespace moesim::cost {

/// A compute model that prices each op of a fitted family (sim/cost/kernel_family.hpp) with
/// `fits`, and every other op with `base` (the roofline). `params` gives the shape functions of
/// the features. `base` prices for the same GPU as `fits`.
std::unique_ptr<ComputeModel> make_calibrated_model(std::unique_ptr<ComputeModel> base,
                                                    const GpuCalibration& fits,
                                                    const EfficiencyParams& params);

}  // namespace moesim::cost
