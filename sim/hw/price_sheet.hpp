#pragma once
/// \file
/// The price and power sheet (topologies/prices.yaml): for each system, what one GPU-hour
/// costs and what one GPU draws all-in at load and at idle, each with its source. Kept apart
/// from the hardware catalog because users edit it for their own contracts and datacenters.
/// Schema and the choice of the default price column: topologies/README.md.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"

namespace moesim::hw {

/// Catalog section of the price sheets: the topologies/ folder itself, so the default sheet is
/// topologies/prices.yaml, entry "prices".
inline constexpr std::string_view kPriceSection = "topologies";
/// Entry name of the default price sheet in kPriceSection.
inline constexpr std::string_view kDefaultPriceSheet = "prices";

/// Price and power of one system, per GPU.
struct PriceEntry {
  std::string system;            ///< system catalog name, e.g. "hgx-h200"
  MoneyRate price_per_gpu_hour;  ///< rental price of one GPU (>= 0)
  std::string price_source;      ///< where the price comes from (source id, provider, basis)
  std::string price_date;        ///< when the price was quoted, e.g. "2026-02"
  Power power_per_gpu_load;      ///< all-in draw per GPU at full load (system power / GPUs)
  Power power_per_gpu_idle;      ///< all-in draw per GPU while idle (<= load)
  std::string power_source;      ///< where both power figures come from
  SourceLocation location;       ///< where the entry was read
};

/// A price sheet: one PriceEntry per system name, in file order.
class PriceSheet {
 public:
  /// `entries` must have distinct system names (asserted).
  PriceSheet(std::string name, std::string description, std::string default_column,
             std::vector<PriceEntry> entries, SourceLocation location);

  const std::string& name() const { return name_; }
  const std::string& description() const { return description_; }
  /// Which price column the sheet uses, e.g. "CoreWeave on-demand list price, February 2026".
  const std::string& default_column() const { return default_column_; }
  /// All entries, in file order.
  std::span<const PriceEntry> entries() const { return entries_; }
  /// Where the sheet was read.
  const SourceLocation& location() const { return location_; }

  /// The entry for `system`, or nullptr when the sheet has none.
  const PriceEntry* find(std::string_view system) const;
  /// The entry for `system`; a ConfigError at the sheet (key path "systems.<system>", with the
  /// nearest system name as "did you mean") when the sheet has none.
  const PriceEntry& at(std::string_view system) const;

 private:
  std::string name_;
  std::string description_;
  std::string default_column_;
  std::vector<PriceEntry> entries_;
  SourceLocation location_;
};

/// Reads a price sheet (a map; see topologies/README.md). Unknown or missing keys, malformed
/// prices or powers, a non-positive load power and an idle power above the load power throw
/// ConfigError.
PriceSheet parse_price_sheet(const config::ConfigNode& node);

/// Loads a price sheet from `catalog` section kPriceSection by name or by path to a YAML file.
PriceSheet load_price_sheet(const config::Catalog& catalog,
                            std::string_view name_or_path = kDefaultPriceSheet);

}  // namespace moesim::hw
