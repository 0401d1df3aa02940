#include "sim/cost/stack.hpp"

#include <map>
#include <mutex>

#include "sim/cost/impl/calibrated.hpp"
#include "sim/cost/registry.hpp"

namespace moesim::cost {

namespace {

StackProfile parse_stack(const config::Catalog& catalog, const std::filesystem::path& path) {
  const config::ConfigNode root = config::ConfigNode::load_file(path);
  root.check_keys({"description", "framework", "version", "calibration", "engine"});
  StackProfile s;
  s.name = path.stem().string();
  s.location = root.location();
  if (const auto d = root.get("description")) s.description = d->as_string();
  if (const auto f = root.get("framework")) s.framework = f->as_string();
  if (const auto v = root.get("version")) s.version = v->as_string();
  if (const auto c = root.get("calibration")) {
    const std::filesystem::path file = catalog.resolve(kStackSection, *c);
    s.calibration = parse_calibration(config::ConfigNode::load_file(file));
    s.calibration_file = file;
  }
  if (const auto e = root.get("engine")) {
    e->check_keys({"cuda_graphs", "overlap_scheduler", "all_to_all", "scheduler"});
    s.scheduler = e->get("scheduler");
    if (const auto g = e->get("cuda_graphs")) s.engine.cuda_graphs = g->as_bool();
    if (const auto o = e->get("overlap_scheduler")) s.engine.overlap_scheduler = o->as_bool();
    if (const auto a = e->get("all_to_all")) {
      static constexpr std::string_view kLayouts[] = {"per_rank", "per_token_expert"};
      auto layout = [](const config::ConfigNode& n) {
        return n.as_choice(kLayouts) == "per_rank" ? llm::DispatchLayout::kPerRank
                                                   : llm::DispatchLayout::kPerTokenExpert;
      };
      if (a->is_map()) {
        a->check_keys({"prefill", "decode"});
        if (const auto p = a->get("prefill")) s.all_to_all.prefill = layout(*p);
        if (const auto d = a->get("decode")) s.all_to_all.decode = layout(*d);
      } else {
        s.all_to_all.prefill = s.all_to_all.decode = layout(*a);
      }
    }
  }
  return s;
}

/// When and how large a file was last written.
using Stamp = std::pair<std::filesystem::file_time_type, std::uintmax_t>;

Stamp stamp_of(const std::filesystem::path& p) {
  return {std::filesystem::last_write_time(p), std::filesystem::file_size(p)};
}

/// Stacks already read, by file and its calibration's modification times and sizes: sweeps build a
/// step model per point, and parsing a calibration file (tens of KiB of YAML) each time was a
/// tenth of `moesim compare`.
struct StackCache {
  std::mutex mutex;
  std::map<std::string, std::pair<std::vector<Stamp>, StackProfile>> stacks;
};

StackCache& stack_cache() {
  static StackCache cache;
  return cache;
}

/// The stamps of `path` and of the calibration it names (what a cached copy depends on).
std::vector<Stamp> stamps(const StackProfile& s, const std::filesystem::path& path) {
  std::vector<Stamp> out{stamp_of(path)};
  if (!s.calibration_file.empty()) out.push_back(stamp_of(s.calibration_file));
  return out;
}

}  // namespace

StackProfile load_stack(const config::Catalog& catalog, std::string_view name_or_path) {
  const std::filesystem::path path = catalog.resolve(kStackSection, name_or_path);
  StackCache& cache = stack_cache();
  const std::string key = std::filesystem::absolute(path).lexically_normal().string();
  {
    const std::lock_guard lock(cache.mutex);
    const auto it = cache.stacks.find(key);
    if (it != cache.stacks.end() && stamps(it->second.second, path) == it->second.first) {
      return it->second.second;
    }
  }
  StackProfile s = parse_stack(catalog, path);
  const std::lock_guard lock(cache.mutex);
  cache.stacks.insert_or_assign(key, std::pair{stamps(s, path), s});
  return s;
}

struct StackModels::Entry {
  hw::GpuSpec gpu;
  std::unique_ptr<Featurizer> features;
  std::unique_ptr<ComputeModel> model;
};

StackModels::StackModels(const config::Catalog& catalog, StackProfile stack)
    : catalog_(catalog), stack_(std::move(stack)), efficiency_(EfficiencyTable::load(catalog)) {}

StackModels::~StackModels() = default;

GpuModels StackModels::operator()(const Measurement& m) {
  for (const auto& [name, e] : entries_) {
    if (name == m.gpu) return {e->model.get(), e->features.get()};
  }
  auto e = std::make_unique<Entry>();
  try {
    e->gpu = hw::load_gpu(catalog_, m.gpu);
  } catch (const ConfigError& err) {
    throw ConfigError(m.where, "gpu", "a GPU of the catalog (moesim list)",
                      "'" + m.gpu + "': " + err.what());
  }
  const EfficiencyParams params = efficiency_.resolve(e->gpu);
  e->features = std::make_unique<Featurizer>(e->gpu, params);
  e->model = make_stack_model(stack_, e->gpu, params, stack_.engine);
  const GpuModels out{e->model.get(), e->features.get()};
  entries_.emplace_back(m.gpu, std::move(e));
  return out;
}

std::unique_ptr<ComputeModel> make_stack_model(const StackProfile& stack, const hw::GpuSpec& gpu,
                                               const EfficiencyParams& params,
                                               const ComputeOptions& options) {
  ComputeModelRegistry registry;
  register_builtin(registry);
  std::unique_ptr<ComputeModel> base = registry.make("roofline", gpu, params, options);
  if (!stack.calibration) return base;
  const GpuCalibration* fits = stack.calibration->gpu(gpu.name);
  static const GpuCalibration kNone;
  return make_calibrated_model(std::move(base), fits ? *fits : kNone, params);
}

}  // namespace moesim::cost
