#pragma once
/// \file
/// Factories of the NetworkModel implementations; private to sim/hw (used by
/// make_network_model in sim/hw/network_model.cpp).

#include <memory>

#include "sim/hw/network_model.hpp"

namespace moesim::hw::detail {

/// The fluid max-min model (sim/hw/impl/max_min_network.cpp).
std::unique_ptr<NetworkModel> make_max_min_network(const Topology& topology);
/// The alpha-beta model (sim/hw/impl/alpha_beta.cpp).
std::unique_ptr<NetworkModel> make_alpha_beta_network(const Topology& topology);

}  // namespace moesim::hw::detail
