// `moesim explain`: one engine step op by op (FLOPs, bytes, time, bound, per-rank expert loads),
// or with --schema the documentation of every scenario key.
#include <iostream>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/system.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/parallel_plan.hpp"
#include "sim/serve/scenario.hpp"
#include "sim/study/explain.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

std::int32_t parse_int(const Args& args, const char* name, std::int32_t fallback) {
  const auto v = args.value(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    const int n = std::stoi(*v, &used);
    if (used == v->size() && n > 0) return n;
  } catch (const std::exception&) {
  }
  throw ConfigError(kCommandLine, std::string("--") + name, "a positive integer", *v);
}

}  // namespace

int run_explain(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{
      {"schema", false, "", "print every scenario key (for moesim run) and exit"},
      {"model", true, "NAME|PATH", "model card (default: deepseek-r1)"},
      {"system", true, "NAME|PATH", "system (default: gb200-nvl72)"},
      stack_option_spec(false),
      {"domains", true, "N", "NVLink domains (nodes or racks) in the cluster (default: 1)"},
      {"precision", true, "YAML", "precision map, e.g. '{weights: nvfp4, kv_cache: fp8}'"},
      {"plan", true, "YAML",
       "parallel plan, e.g. '{attention_dp: 72, ep: 72}' (default: attention-DP + EP over the "
       "system)"},
      {"phase", true, "decode|prefill", "which step to explain (default: decode)"},
      {"batch", true, "N", "decode sequences per attention-DP replica (default: 64)"},
      {"context", true, "N", "decode context length per sequence (default: 2048)"},
      {"chunk", true, "N", "prefill tokens per attention-DP replica (default: 8192)"},
      {"popularity", true, "YAML", "expert popularity: uniform or '{kind: zipf, exponent: 1}'"},
      seed_option("routing seed (default: 1)"),
      {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"},
      {"json", false, "", "print JSON: summary, ops of the slowest rank, per-rank loads"}};
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << "usage: moesim explain [options]\n"
                   "       moesim explain --schema\n\n"
                   "Lowers one engine step of a deployment to its per-GPU operations, samples the "
                   "MoE routing,\nprices every op (compute, memory, network) and times the step "
                   "rank by rank. Prints a\nsummary, every op of the slowest rank (layer, FLOPs, "
                   "bytes, start, time, bound) and the\nper-rank expert loads of the first MoE "
                   "layer.\n\nexample:\n  moesim explain --model deepseek-r1 --system hgx-h200 "
                   "--plan '{attention_dp: 8, ep: 8}' --batch 32\n\n"
                << format_options(specs);
      return 0;
    }
  }
  const Args args("explain", words, specs);
  if (args.flag("schema")) {
    std::cout << serve::scenario_schema();
    return 0;
  }
  if (!args.positional().empty()) {
    throw ConfigError(kCommandLine, "moesim explain", "options only (see --help)",
                      args.positional().front());
  }
  const config::Catalog catalog = open_catalog(args);
  study::ExplainRequest req;
  req.model = args.value("model").value_or(req.model);
  req.system = args.value("system").value_or(req.system);
  req.stack = stack_option(args, 0, 1);
  const hw::SystemSpec system = hw::load_system(catalog, req.system);
  req.domains = parse_domains(args, system);
  req.precision_yaml = args.value("precision").value_or("");
  if (const auto plan = args.value("plan")) {
    req.plan = llm::parse_parallel_plan(config::ConfigNode::parse(*plan, "--plan"));
  } else {
    // Default: attention DP + EP over every GPU, with the fewest redundant expert slots that
    // make the experts divide evenly (EPLB places them), as wide-EP deployments do.
    const std::int32_t gpus = system.domain_size * req.domains;
    req.plan = llm::ParallelPlan::attention_dp_ep(gpus);
    const llm::ModelSpec model = llm::load_model(catalog, req.model);
    if (model.moe) {
      const auto experts = static_cast<std::int32_t>(model.moe->num_experts);
      req.plan.redundant_experts = (gpus - experts % gpus) % gpus;
    }
  }
  const std::string phase = args.value("phase").value_or("decode");
  if (phase != "decode" && phase != "prefill") {
    throw ConfigError(kCommandLine, "--phase", "decode or prefill", phase);
  }
  req.decode = phase == "decode";
  req.batch = parse_int(args, "batch", req.batch);
  req.context = parse_int(args, "context", req.context);
  req.chunk = parse_int(args, "chunk", req.chunk);
  req.popularity_yaml = args.value("popularity").value_or(req.popularity_yaml);
  req.seed = parse_seed(args, req.seed);

  const study::Explanation e = study::explain_step(catalog, req);
  if (args.flag("json")) {
    std::cout << "{\"summary\": " << e.summary.to_json() << ", \"ops\": " << e.ops.to_json()
              << ", \"loads\": " << e.loads.to_json() << "}\n";
    return 0;
  }
  for (const auto& n : e.notes) std::cout << "note: " << n << "\n";
  std::cout << e.summary.to_text() << "\nops of the slowest rank:\n"
            << e.ops.to_text() << "\nper-rank expert work, first MoE layer:\n"
            << e.loads.to_text();
  return 0;
}

}  // namespace moesim::cli
