#pragma once
/// \file
/// The roofline compute model's registry entry (equations in roofline.cpp). Private to
/// sim/cost: use ComputeModelRegistry ("roofline").

#include "sim/cost/registry.hpp"

namespace moesim::cost::detail {

/// Name, description, parameters and factory of the roofline model.
ComputeModelEntry roofline_entry();

}  // namespace moesim::cost::detail
