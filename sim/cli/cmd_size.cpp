// `moesim size`: how many GPUs (nodes, racks) and which deployment serve a load under an SLA at
// the lowest monthly cost, on one or several systems side by side (sim/study/sizing.hpp).
#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/serve/workload.hpp"
#include "sim/study/sizing.hpp"
#include "sim/study/sweep.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

/// Options shown by --help, in order.
std::vector<OptionSpec> size_options() {
  return {{"model", true, "NAME|PATH", "model card (default: deepseek-r1)"},
          {"system", true, "NAME|PATH", "a system to size (repeat for a side-by-side answer)"},
          {"load", true, "RATE", "output tokens to serve, e.g. \"2M tok/min\", \"30000 tok/s\""},
          {"sla", true, "LIST", "constraints, e.g. \"tpot_p90<40ms,ttft_p99<2s\" (see above)"},
          {"precision", true, "K=V,...",
           "weights=..,kv_cache=.. once for all systems, or once per --system in order"},
          {"isl", true, "N", "input tokens per request (default: 1024)"},
          {"osl", true, "N", "output tokens per request (default: 1024)"},
          {"workload", true, "NAME|PATH", "mixed request classes, each with its own SLA"},
          skew_option_spec(),
          {"prices", true, "NAME|PATH", "price and power sheet (default: prices)"},
          stack_option_spec(true),
          prefill_system_option_spec(true),
          {"whole-racks", false, "", "round GPUs up to whole NVLink domains, not nodes"},
          {"full", false, "", "search the whole space of `moesim sweep` (slower)"},
          {"max-concurrency", true, "N", "top of the concurrency ladder per instance (4096)"},
          {"top", true, "N", "runner-ups listed per system (default: 3)"},
          {"jobs", true, "N", "simulations in parallel (default: every core)"},
          seed_option("seed of every simulation (default: 1)"),
          {"json", true, "FILE|-", "write the winners and runner-ups as JSON"},
          {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"}};
}

constexpr const char* kSizeHelp =
    "usage: moesim size --system S [--system S2 ...] --load RATE --sla LIST [--model M]\n"
    "                   [--precision P ...] [--isl N --osl N | --workload NAME|PATH]\n"
    "                   [--prices SHEET] [--whole-racks] [--jobs N] [--json FILE|-]\n\n"
    "How many GPUs, nodes and racks, and which deployment, serve a load under an SLA at the\n"
    "lowest monthly cost; several systems give a side-by-side answer.\n\n"
    "Load: output tokens per unit time with explicit units: \"2M tok/min\", \"30000 tok/s\",\n"
    "\"1.5k tok/s\" (multipliers k, M, G; per s, min or h), or requests: \"5 req/s\" (x OSL).\n"
    "SLA: comma-separated constraints, times with units: ttft_p50/p90/p99, tpot_p50/p90/p99,\n"
    "e2e_p90/p99 below a time (\"tpot_p90<40ms\"), tok_s_per_user above a number\n"
    "(\"tok_s_per_user>20\"). With --workload, every request class must meet the SLA: --sla\n"
    "applies to all classes, else each class keeps the SLA of the workload file (its tpot limit\n"
    "read as tpot_p90, its ttft limit as ttft_p99).\n\n"
    "Method, for each system:\n"
    "  1. sweep the deployments (the space of `moesim compare`: TP4/TP8, attention DP + EP\n"
    "     8/16/32/72, MTP off/3, concurrency 1, 4, 16, ... per instance; --full for all of\n"
    "     `moesim sweep`), each point a closed-loop `moesim run` at fixed ISL/OSL (with\n"
    "     --workload: simulated again with the classes, at their mean lengths for the sweep);\n"
    "  2. keep the points where every SLA constraint holds;\n"
    "  3. replicas = ceil(load / (output tok/s per GPU x GPUs of one replica)); a replica is one\n"
    "     instance of an aggregated deployment (\"TP8 x9\" is 9 replicas of TP8), a whole\n"
    "     disaggregated deployment otherwise, and each runs the point's concurrency;\n"
    "  4. pack the replicas' instances into NVLink domains (never across one) and round each\n"
    "     domain's GPUs up to whole nodes (HGX servers, NVL72 compute trays), or whole racks\n"
    "     with --whole-racks;\n"
    "  5. $ per month = GPUs x price per GPU-hour x 730 h, power = GPUs x all-in power per GPU\n"
    "     at load (and at idle), from the price sheet (its source is printed);\n"
    "  6. print the cheapest point per system, with each SLA metric achieved and its margin,\n"
    "     and the runner-ups; where nothing qualifies, the closest point.\n"
    "--prefill-system NAME (once, or once per --system) adds the disaggregated layouts of\n"
    "`moesim sweep` with their prefill pools on NAME (mixed hardware, e.g. HGX H200 prefill\n"
    "for NVL72 decode): their prefill instances are packed onto NAME's nodes and paid at its\n"
    "price and power, the decode instances onto the --system's; GPUs, nodes and racks are the\n"
    "sums of both.\n\n"
    "Example:\n"
    "  moesim size --model deepseek-r1 --system gb200-nvl72 --system hgx-h200 \\\n"
    "      --load \"2M tok/min\" --sla \"tpot_p90<40ms,ttft_p99<2s\"\n\n";

std::vector<study::ClassSla> class_slas(const Args& args,
                                        const std::optional<serve::WorkloadSpec>& workload) {
  const auto sla_text = args.value("sla");
  std::vector<study::SlaConstraint> given;
  if (sla_text) given = study::parse_sla(*sla_text, "--sla");
  std::vector<study::ClassSla> out;
  if (!workload) {
    if (!sla_text) {
      throw ConfigError(kCommandLine, "--sla", "constraints such as \"tpot_p90<40ms\"", "nothing");
    }
    out.push_back({"all", given});
    return out;
  }
  bool any = false;
  for (const serve::RequestClass& c : workload->classes) {
    out.push_back({c.name, sla_text ? given : study::class_sla_constraints(c.sla)});
    any = any || !out.back().constraints.empty();
  }
  if (!any) {
    throw ConfigError(kCommandLine, "--sla",
                      "constraints such as \"tpot_p90<40ms\" (the workload's classes have no SLA)",
                      "nothing");
  }
  return out;
}

}  // namespace

int run_size(const std::vector<std::string>& words) {
  const auto specs = size_options();
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << kSizeHelp << format_options(specs);
      return 0;
    }
  }
  const Args args("size", words, specs);
  if (!args.positional().empty()) {
    throw ConfigError(kCommandLine, "moesim size", "options only (see --help)",
                      args.positional().front());
  }
  if (const auto path = args.value("json")) check_writable(*path, "--json");
  const std::vector<std::string> systems = args.values("system");
  if (systems.empty()) {
    throw ConfigError(kCommandLine, "--system", "a system name or path", "nothing");
  }
  const std::vector<std::string> precisions = args.values("precision");
  if (precisions.size() > 1 && precisions.size() != systems.size()) {
    throw ConfigError(kCommandLine, "--precision", "one precision, or one per --system",
                      std::to_string(precisions.size()) + " for " + std::to_string(systems.size()) +
                          " systems (--precision " + precisions[0] + " and --precision " +
                          precisions[1] + ")");
  }
  const config::Catalog catalog = open_catalog(args);

  study::SizingQuestion q;
  study::SweepBase base;
  base.model = args.value("model").value_or(base.model);
  base.price_sheet = args.value("prices").value_or(base.price_sheet);
  base.seed = parse_seed(args, base.seed);
  base.extra_yaml = skew_yaml(args);
  double osl_mean = 0.0;
  if (const auto w = args.value("workload")) {
    if (args.value("isl") || args.value("osl")) {
      throw ConfigError(kCommandLine, "--workload", "either --workload or --isl/--osl", *w);
    }
    q.workload = serve::parse_workload(catalog.load("workloads", *w));
    double sum = 0.0;
    double weights = 0.0;
    for (const auto& c : q.workload->classes) {
      sum += c.weight * c.osl.expected();
      weights += c.weight;
    }
    osl_mean = sum / weights;
  } else {
    base.isl = parse_tokens(args, "isl", base.isl);
    base.osl = parse_tokens(args, "osl", base.osl);
    osl_mean = static_cast<double>(base.osl);
  }
  const auto load_text = args.value("load");
  if (!load_text) {
    throw ConfigError(kCommandLine, "--load", "a load such as \"2M tok/min\"", "nothing");
  }
  q.load = study::parse_load(*load_text, osl_mean, "--load");
  q.sla = class_slas(args, q.workload);
  q.rounding = args.flag("whole-racks") ? study::Rounding::kDomain : study::Rounding::kNode;
  const auto top = static_cast<std::size_t>(parse_tokens(args, "top", 3));

  study::SweepSpace space =
      args.flag("full") ? study::SweepSpace::standard() : study::SweepSpace::quick();
  space.max_concurrency =
      static_cast<std::int32_t>(parse_tokens(args, "max-concurrency", space.max_concurrency));
  // Mixed hardware only exists in disaggregated layouts: --prefill-system brings those of
  // `moesim sweep` into the quick space (as `moesim compare` does).
  if (!args.values("prefill-system").empty() && space.disagg_ratios.empty()) {
    space.disagg_ratios = study::SweepSpace::standard().disagg_ratios;
  }
  study::SweepOptions options;
  options.jobs = parse_jobs(args);

  const auto start = std::chrono::steady_clock::now();
  std::vector<study::SystemSizing> results;
  std::vector<std::string> precision_text;
  std::vector<std::string> precision_yaml;  // checked, all of them, before any sizing
  for (std::size_t i = 0; i < systems.size(); ++i) {
    const std::string p = precisions.empty() ? "" : precisions[precisions.size() > 1 ? i : 0];
    precision_yaml.push_back(checked_precision(p, "--precision", base.model, catalog));
  }
  for (std::size_t i = 0; i < systems.size(); ++i) {
    study::SweepBase b = base;
    b.system = systems[i];
    b.precision = precision_yaml[i];
    b.stack = stack_option(args, i, systems.size());
    b.prefill_system = prefill_system_option(args, i, systems.size());
    precision_text.push_back(b.precision.empty() ? "checkpoint" : b.precision);
    options.progress = terminal_progress("size " + b.system);
    results.push_back(study::size_system(b, space, q, catalog, options));
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;

  const study::Table winners = study::sizing_table(results, q);
  const study::Table options_table = study::runner_up_table(results, top);
  const auto json = args.value("json");
  if (json != std::optional<std::string>("-")) {
    std::cout << "Sizing " << base.model << " for " << q.load.text << " = "
              << study::format_number(q.load.output_tok_s, 4) << " output tok/s, ";
    if (q.workload) {
      std::cout << "workload " << *args.value("workload") << " (classes in a closed loop)";
    } else {
      std::cout << base.isl << " in / " << base.osl << " out";
    }
    std::cout << "\nSLA:";
    for (const auto& c : q.sla) {
      std::cout << (q.sla.size() > 1 ? " " + c.name + ":" : std::string());
      for (const auto& con : c.constraints) std::cout << " " << con.describe();
      if (c.constraints.empty()) std::cout << " none";
    }
    std::cout << "\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      std::cout << r.system << ": precision " << precision_text[i] << "; " << r.swept_points
                << " sweep points";
      if (r.resimulated > 0) {
        std::cout << ", " << r.resimulated << " simulated again for their SLA metrics";
        if (r.resimulation_failures > 0) std::cout << " (" << r.resimulation_failures << " failed)";
      }
      std::cout << "; " << r.ranked.size() << " meet the SLA\n  prices: " << r.price_source
                << "\n  " << r.stack_note << "\n";
    }
    std::cout << "(" << study::format_number(took.count(), 3) << " s)\n\n" << winners.to_text();
    const bool any = std::any_of(results.begin(), results.end(),
                                 [](const study::SystemSizing& r) { return !r.ranked.empty(); });
    if (any) {
      std::cout << "\nThe cheapest " << top << " per system:\n" << options_table.to_text();
    }
  }
  for (const auto& r : results) {
    if (r.none_reason.empty()) continue;
    // With JSON on stdout, the reason goes to stderr so that stdout stays JSON.
    (json == std::optional<std::string>("-") ? std::cerr : std::cout)
        << "\n"
        << r.system << ": nothing to size: " << r.none_reason << "\n";
  }
  if (json) {
    write_text_file(
        *json,
        "{\"winners\": " + winners.to_json() + ",\n\"options\": " + options_table.to_json() + "}\n",
        "--json");
  }
  return 0;
}

}  // namespace moesim::cli
