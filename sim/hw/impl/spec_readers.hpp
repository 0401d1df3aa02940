#pragma once
/// \file
/// Readers shared by the hardware-catalog parsers: counts and quantities that must be
/// positive, and non-empty texts. Private to sim/hw.

#include <string>

#include "sim/config/config_node.hpp"
#include "sim/core/units.hpp"

namespace moesim::hw::detail {

/// A whole number in [min, 1,000,000]; a ConfigError otherwise.
int read_count(const config::ConfigNode& node, int min = 1);
/// A non-empty string.
std::string read_text(const config::ConfigNode& node);
/// A data size above zero.
Bytes read_positive_bytes(const config::ConfigNode& node);
/// A data rate above zero.
Bandwidth read_positive_bandwidth(const config::ConfigNode& node);
/// A compute rate above zero.
FlopRate read_positive_flop_rate(const config::ConfigNode& node);
/// A power above zero.
Power read_positive_power(const config::ConfigNode& node);

}  // namespace moesim::hw::detail
