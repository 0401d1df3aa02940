#include "sim/hw/price_sheet.hpp"

#include <algorithm>

#include "sim/core/suggest.hpp"
#include "sim/hw/impl/spec_readers.hpp"

namespace moesim::hw {
namespace {

using config::ConfigNode;
using detail::read_positive_power;
using detail::read_text;

PriceEntry read_entry(const std::string& system, const ConfigNode& node) {
  node.check_keys({"price_per_gpu_hour", "price_source", "price_date", "power_per_gpu_load",
                   "power_per_gpu_idle", "power_source"});
  PriceEntry e;
  e.system = system;
  const ConfigNode price = node.at("price_per_gpu_hour");
  e.price_per_gpu_hour = price.as_money_rate();
  if (e.price_per_gpu_hour.base() < 0.0) price.fail("a price of zero or more, such as \"$2.10/h\"");
  e.price_source = read_text(node.at("price_source"));
  e.price_date = read_text(node.at("price_date"));
  e.power_per_gpu_load = read_positive_power(node.at("power_per_gpu_load"));
  const ConfigNode idle = node.at("power_per_gpu_idle");
  e.power_per_gpu_idle = idle.as_power();
  if (e.power_per_gpu_idle > e.power_per_gpu_load) {
    idle.fail("an idle power no greater than power_per_gpu_load (" +
              std::to_string(in_watts(e.power_per_gpu_load)) + " W)");
  }
  e.power_source = read_text(node.at("power_source"));
  e.location = node.location();
  return e;
}

}  // namespace

PriceSheet::PriceSheet(std::string name, std::string description, std::string default_column,
                       std::vector<PriceEntry> entries, SourceLocation location)
    : name_(std::move(name)),
      description_(std::move(description)),
      default_column_(std::move(default_column)),
      entries_(std::move(entries)),
      location_(std::move(location)) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    for (std::size_t j = i + 1; j < entries_.size(); ++j) {
      MOESIM_ASSERT(entries_[i].system != entries_[j].system, "price entries must be distinct");
    }
  }
}

const PriceEntry* PriceSheet::find(std::string_view system) const {
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [&](const PriceEntry& e) { return e.system == system; });
  return it == entries_.end() ? nullptr : &*it;
}

const PriceEntry& PriceSheet::at(std::string_view system) const {
  if (const PriceEntry* e = find(system)) return *e;
  std::vector<std::string> names;
  std::string listed;
  for (const PriceEntry& e : entries_) {
    names.push_back(e.system);
    listed += (listed.empty() ? "" : ", ") + e.system;
  }
  throw ConfigError(
      location_, "systems." + std::string{system},
      "a price entry for system '" + std::string{system} + "' (the sheet has: " + listed + ")",
      "none in price sheet '" + name_ + "'", closest_match(system, names));
}

PriceSheet parse_price_sheet(const ConfigNode& node) {
  if (!node.is_map()) node.fail("a price sheet (a map with name, default_column, systems)");
  node.check_keys({"name", "description", "default_column", "systems"});
  const ConfigNode systems = node.at("systems");
  if (!systems.is_map() || systems.keys().empty()) {
    systems.fail("a map from system name to its price and power entry");
  }
  std::vector<PriceEntry> entries;
  for (const auto& [system, entry] : systems.entries())
    entries.push_back(read_entry(system, entry));
  return PriceSheet(read_text(node.at("name")), read_text(node.at("description")),
                    read_text(node.at("default_column")), std::move(entries), node.location());
}

PriceSheet load_price_sheet(const config::Catalog& catalog, std::string_view name_or_path) {
  return parse_price_sheet(catalog.load(kPriceSection, name_or_path));
}

}  // namespace moesim::hw
