#include "sim/step/deployment.hpp"

#include <utility>

#include "sim/cost/efficiency.hpp"

namespace moesim::step {

llm::ModelSpec load_model_node(const config::Catalog& catalog, const config::ConfigNode& node) {
  // resolve() locates an unknown name at the scenario's key, with a did-you-mean.
  if (node.is_scalar()) return llm::load_model(catalog, catalog.resolve("models", node).string());
  return llm::parse_model(node);
}

hw::SystemSpec load_system_node(const config::Catalog& catalog, const config::ConfigNode& node) {
  if (node.is_scalar()) {
    return hw::load_system(catalog, catalog.resolve(hw::kSystemSection, node).string());
  }
  return hw::parse_system(catalog, node);
}

cost::StackProfile resolve_stack(const config::Catalog& catalog, const hw::SystemSpec& system,
                                 const std::optional<config::ConfigNode>& stack) {
  if (!stack) return cost::load_stack(catalog, system.stack);
  if (stack->is_scalar() && !stack->as_string().empty()) {
    const std::filesystem::path path = catalog.resolve(cost::kStackSection, *stack);
    return cost::load_stack(catalog, path.string());
  }
  stack->fail("a stack name or path (topologies/stacks/)");
  return {};
}

std::unique_ptr<Deployment> make_deployment(const config::Catalog& catalog, llm::ModelSpec model,
                                            hw::SystemSpec system, llm::Precision precision,
                                            llm::ParallelPlan plan, const cost::StackProfile& stack,
                                            const cost::ComputeOptions& options, int domains,
                                            const std::optional<config::ConfigNode>& popularity) {
  auto d = std::make_unique<Deployment>();
  d->model = std::move(model);
  d->system = std::move(system);
  d->precision = std::move(precision);
  d->plan = plan;
  const std::int32_t gpus = plan.pp * plan.tp * plan.attention_dp;
  const int domain = d->system.domain_size > 0 ? d->system.domain_size : 1;
  d->domains = domains > 0 ? domains : (gpus + domain - 1) / domain;
  const llm::TargetGpu target{d->system.gpu.name, d->system.gpu.peak_dense,
                              d->system.gpu.hbm.capacity};
  d->lowering = std::make_unique<llm::Lowering>(d->model, d->plan, d->precision, target,
                                                domain * d->domains, stack.all_to_all);
  if (d->model.moe) {
    d->popularity = popularity ? llm::parse_popularity(*popularity, d->model.moe->num_experts,
                                                       d->model.num_moe_layers())
                               : llm::ExpertPopularity::uniform(d->model.moe->num_experts,
                                                                d->model.num_moe_layers());
    d->routing = std::make_shared<const llm::RoutingTables>(
        d->model, *d->popularity, d->plan.ep, d->plan.redundant_experts,
        d->plan.redundant_experts > 0 ? llm::PlacementKind::kEplb
                                      : llm::PlacementKind::kContiguous);
  }
  const cost::EfficiencyTable table = cost::EfficiencyTable::load(catalog);
  cost::ComputeOptions engine = options;
  engine.cuda_graphs = options.cuda_graphs && stack.engine.cuda_graphs;
  engine.overlap_scheduler = options.overlap_scheduler && stack.engine.overlap_scheduler;
  d->compute = cost::make_stack_model(stack, d->system.gpu, table.resolve(d->system.gpu), engine);
  d->stack = stack.name;
  d->network = std::make_unique<NetworkContext>(catalog, d->system, d->domains);
  return d;
}

}  // namespace moesim::step
