#include "sim/cost/registry.hpp"

#include "sim/core/assert.hpp"
#include "sim/core/suggest.hpp"
#include "sim/cost/impl/roofline.hpp"

namespace moesim::cost {

void ComputeModelRegistry::add(const ComputeModelEntry& entry) {
  MOESIM_ASSERT(entry.make != nullptr, "a compute model needs a factory");
  MOESIM_ASSERT(find(entry.name) == nullptr, "compute model registered twice");
  entries_.push_back(entry);
}

const ComputeModelEntry* ComputeModelRegistry::find(std::string_view name) const {
  for (const ComputeModelEntry& e : entries_) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

const ComputeModelEntry& ComputeModelRegistry::at(const config::ConfigNode& name) const {
  const std::string typed = name.as_string();
  if (const ComputeModelEntry* e = find(typed)) return *e;
  const std::vector<std::string> known = names();
  std::string list;
  for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
  name.fail("a compute model (one of: " + list + ")", {}, closest_match(typed, known));
}

std::vector<std::string> ComputeModelRegistry::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const ComputeModelEntry& e : entries_) out.emplace_back(e.name);
  return out;
}

std::unique_ptr<ComputeModel> ComputeModelRegistry::make(std::string_view name,
                                                         const hw::GpuSpec& gpu,
                                                         const EfficiencyParams& params,
                                                         const ComputeOptions& options) const {
  const ComputeModelEntry* e = find(name);
  MOESIM_ASSERT(e != nullptr, "unknown compute model name (use at() for names from input)");
  return e->make(gpu, params, options);
}

void register_builtin(ComputeModelRegistry& registry) { registry.add(detail::roofline_entry()); }

}  // namespace moesim::cost
