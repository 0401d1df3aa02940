// Tests of the compute-model registry: what register_builtin adds, lookups of names written in
// YAML (with a did-you-mean), and that each entry documents its parameters.

#include "sim/cost/registry.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::cost {
namespace {

TEST_CASE("register_builtin registers the roofline model with documented parameters") {
  ComputeModelRegistry registry;
  CHECK(registry.names().empty());
  register_builtin(registry);
  CHECK(registry.names() == std::vector<std::string>{"roofline"});
  const ComputeModelEntry* roofline = registry.find("roofline");
  REQUIRE(roofline != nullptr);
  CHECK_FALSE(roofline->doc.empty());
  CHECK_FALSE(roofline->params.empty());
  for (const ParamDoc& p : roofline->params) {
    CAPTURE(p.name);
    CHECK_FALSE(p.type.empty());
    CHECK_FALSE(p.doc.empty());
    CHECK_FALSE(p.source.empty());
  }
}

TEST_CASE("a model name from YAML is looked up with a did-you-mean") {
  ComputeModelRegistry registry;
  register_builtin(registry);
  const config::ConfigNode ok = config::ConfigNode::parse("impl: roofline\n", "inline");
  CHECK(registry.at(ok.at("impl")).name == "roofline");
  const config::ConfigNode typo = config::ConfigNode::parse("impl: roofilne\n", "inline");
  try {
    (void)registry.at(typo.at("impl"));
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "impl");
    CHECK(e.suggestion() == "roofline");
  }
}

TEST_CASE("registering a name twice is an invariant violation") {
  ComputeModelRegistry registry;
  register_builtin(registry);
  CHECK_THROWS_AS(register_builtin(registry), InvariantError);
}

TEST_CASE("the registry builds a model for a catalog GPU") {
  const config::Catalog catalog(std::filesystem::path{MOESIM_SOURCE_DIR});
  ComputeModelRegistry registry;
  register_builtin(registry);
  const hw::GpuSpec gpu = hw::load_gpu(catalog, "h200");
  const EfficiencyParams params = EfficiencyTable::load(catalog).resolve(gpu);
  const auto model = registry.make("roofline", gpu, params);
  CHECK(model->name() == "roofline");
  CHECK(model->gpu().name == "h200");
  CHECK_THROWS_AS((void)registry.make("analytic", gpu, params), InvariantError);
}

}  // namespace
}  // namespace moesim::cost
