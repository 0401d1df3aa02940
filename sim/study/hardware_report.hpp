#pragma once
/// \file
/// Hardware reports: one GPU, one system, and systems side by side (the hardware part of
/// `moesim compare`). Figures come straight from the catalog and the price sheet; nothing here
/// predicts performance.

#include <vector>

#include "sim/hw/gpu.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"
#include "sim/study/table.hpp"

namespace moesim::study {

/// Every figure of one GPU with its unit (columns: field, value).
Table gpu_report(const hw::GpuSpec& gpu);

/// Every figure of one system, the derived per-domain figures, and its price entry when one is
/// given (columns: field, value).
Table system_report(const hw::SystemSpec& system, const hw::PriceEntry* price);

/// Systems side by side, per GPU and per NVLink domain: FP4/FP8/BF16 dense rates, HBM, NVLink,
/// scale-out, price and power. With exactly two systems a last column gives the ratio of the
/// first to the second. Missing price entries are a ConfigError (PriceSheet::at).
Table hardware_comparison(const std::vector<hw::SystemSpec>& systems, const hw::PriceSheet& prices);

}  // namespace moesim::study
