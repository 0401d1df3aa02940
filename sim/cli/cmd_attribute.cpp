// `moesim attribute`: how much of the gap between a baseline and a target deployment each factor
// gives (system, precision, parallelism, serving mode, MTP, software stack), as a waterfall and
// as Shapley shares (sim/study/attribution.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"
#include "sim/study/attribution.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

std::vector<OptionSpec> attribute_options() {
  return {{"model", true, "NAME|PATH", "model card (default: deepseek-r1)"},
          {"baseline-system", true, "NAME|PATH", "system of the baseline (default: hgx-h200)"},
          {"target-system", true, "NAME|PATH", "system of the target (default: gb200-nvl72)"},
          {"baseline-precision", true, "K=V,...",
           "baseline precision (default: weights=checkpoint,kv_cache=fp8)"},
          {"target-precision", true, "K=V,...",
           "target precision (default: weights=nvfp4,kv_cache=fp8)"},
          {"baseline-stack", true, "NAME|PATH", "baseline software stack (default: sglang)"},
          {"target-stack", true, "NAME|PATH", "target software stack (default: trtllm)"},
          {"factors", true, "LIST",
           "factors to attribute, in waterfall order (default: "
           "system,precision,parallelism,serving,mtp,stack); the others stay at the target"},
          {"levels", true, "LIST", "tokens/s per user to compare at (default: 20,50,100)"},
          {"isl", true, "N", "input tokens per request (default: 1024)"},
          {"osl", true, "N", "output tokens per request (default: 1024)"},
          {"prices", true, "NAME|PATH", "price and power sheet (default: prices)"},
          skew_option_spec(),
          {"max-concurrency", true, "N", "top of the concurrency ladder per instance (16384)"},
          {"jobs", true, "N", "simulations in parallel (default: every core)"},
          seed_option("seed of every point (default: 1)"),
          {"subsets", false, "", "also print every subset's best deployment per level"},
          {"csv", true, "FILE", "write the attribution table as CSV"},
          {"json", true, "FILE|-", "write everything (attribution, claims, subsets) as JSON"},
          {"plot", true, "FILE.svg", "draw the waterfall of tokens/s per GPU, one panel per level"},
          {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"},
          format_option()};
}

constexpr const char* kAttributeHelp =
    "usage: moesim attribute [--baseline-system S] [--target-system S] [--baseline-precision P]\n"
    "                        [--target-precision P] [--baseline-stack K] [--target-stack K]\n"
    "                        [--factors LIST] [--levels LIST] [--plot FILE.svg] [--json FILE|-]\n\n"
    "Why the target serves more tokens per GPU than the baseline, factor by factor. With no\n"
    "arguments: DeepSeek-R1, 1024 in / 1024 out, from HGX H200 with the FP8 checkpoint, TP8 or\n"
    "ADP8 EP8 inside one server, aggregated serving, no MTP, the SGLang stack, to GB200 NVL72\n"
    "with NVFP4 weights, wide expert parallelism (ADP+EP up to 72), disaggregated serving\n"
    "allowed, MTP 3 and the TensorRT-LLM stack (FP8 KV cache on both). SGLang is the baseline\n"
    "stack because NVIDIA's per-op tables hold no older TensorRT-LLM for H200; for a version\n"
    "upgrade on the same GPUs: --baseline-system hgx-b200 --target-system hgx-b200\n"
    "--baseline-stack trtllm-1.2 (TensorRT-LLM 1.2 vs 1.3 on B200).\n\n"
    "Factors: system, precision and stack swap a value; parallelism, serving (disaggregation)\n"
    "and mtp widen the deployments the best one is chosen from. For every subset of the\n"
    "factors (2^n) the best deployment at each level is found again (the frontier at that\n"
    "level, over the space of `moesim compare` plus disaggregation 1:1 and 1:2), so a factor is\n"
    "a ratio of frontiers. Printed per level:\n"
    "  - waterfall: the factors added one at a time in --factors order, each the ratio of\n"
    "    tokens/s per GPU after / before (cost: $ per million tokens before / after);\n"
    "  - Shapley: each factor's order-independent share, the average over every order of the\n"
    "    ratio it adds; the shares multiply to the total ratio;\n"
    "  - claims: the vendors' 10x tokens/s per GPU and 1/10 cost per token (whole change) and\n"
    "    2.8x per GPU from software alone (every factor but the system), against the\n"
    "    simulator's ratio, with the fewest factors that reach it.\n"
    "A factor whose baseline and target are equal is dropped (one system: a software-only\n"
    "attribution). '-' where some subset cannot reach a level. Your own traffic and prices:\n"
    "--isl/--osl, --skew (expert popularity), --prices. About 45 s on 2 cores.\n\n";

/// The items of a comma-separated list (empty items kept: they are errors of the caller).
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::vector<study::Factor> parse_factors(const std::string& text) {
  std::vector<std::string> names;
  for (const study::Factor f : study::kAllFactors) names.emplace_back(study::factor_name(f));
  std::vector<study::Factor> out;
  for (const std::string& item : split_commas(text)) {
    const auto f = study::parse_factor(item);
    if (!f) {
      throw ConfigError(kCommandLine, "--factors",
                        "factor names separated by commas: system, precision, parallelism, "
                        "serving, mtp, stack",
                        item, closest_match(item, names));
    }
    if (std::find(out.begin(), out.end(), *f) != out.end()) {
      throw ConfigError(kCommandLine, "--factors", "each factor once", item + " twice");
    }
    out.push_back(*f);
  }
  return out;
}

std::vector<double> parse_levels(const std::string& text) {
  std::vector<double> out;
  for (const std::string& item : split_commas(text)) {
    try {
      std::size_t used = 0;
      const double v = std::stod(item, &used);
      if (used == item.size() && std::isfinite(v) && v > 0.0 && v <= 1e6) {
        out.push_back(v);
        continue;
      }
    } catch (const std::exception&) {
    }
    throw ConfigError(kCommandLine, "--levels",
                      "tokens/s per user above 0 (up to 1e6) separated by commas", text);
  }
  return out;
}

}  // namespace

int run_attribute(const std::vector<std::string>& words) {
  const auto specs = attribute_options();
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << kAttributeHelp << format_options(specs);
      return 0;
    }
  }
  const Args args("attribute", words, specs);
  const std::string format = format_of(args);
  if (!args.positional().empty()) {
    throw ConfigError(kCommandLine, "moesim attribute", "options only (see --help)",
                      args.positional().front());
  }
  const config::Catalog catalog = open_catalog(args);
  for (const char* out : {"csv", "json", "plot"}) {
    if (const auto path = args.value(out)) check_writable(*path, std::string("--") + out);
  }

  study::AttributionSetup setup;
  setup.base.model = args.value("model").value_or(setup.base.model);
  setup.base.isl = parse_tokens(args, "isl", setup.base.isl);
  setup.base.osl = parse_tokens(args, "osl", setup.base.osl);
  setup.base.price_sheet = args.value("prices").value_or(setup.base.price_sheet);
  setup.base.seed = parse_seed(args, setup.base.seed);
  setup.base.extra_yaml = skew_yaml(args);
  const char* sides[] = {"baseline", "target"};
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string side = sides[i];
    setup.system[i] = args.value(side + "-system").value_or(setup.system[i]);
    setup.stack[i] = args.value(side + "-stack").value_or(setup.stack[i]);
    setup.precision[i] =
        precision_option(args, side + "-precision", setup.precision[i], setup.base.model, catalog);
  }
  if (const auto v = args.value("factors")) setup.order = parse_factors(*v);
  if (const auto v = args.value("levels")) setup.levels = parse_levels(*v);
  setup.space.max_concurrency =
      static_cast<std::int32_t>(parse_tokens(args, "max-concurrency", setup.space.max_concurrency));
  if (setup.factors().empty()) {
    throw ConfigError(kCommandLine, "--factors",
                      "at least one factor whose baseline and target differ",
                      "every factor given has equal baseline and target");
  }
  study::SweepOptions options;
  options.jobs = parse_jobs(args);

  const auto start = std::chrono::steady_clock::now();
  options.progress = terminal_progress("attribute (every sweep)");
  const study::AttributionResult r = study::run_attribution(setup, catalog, options);
  for (const study::SweepResult& s : r.sweeps) warn_internal_errors(s);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;

  const study::Table table = study::attribution_table(r);
  const bool json_stdout = args.value("json") == std::optional<std::string>("-");
  if (format != "text") {
    print_table(args, table);
  } else if (!json_stdout) {
    std::cout << "Attribution: " << setup.base.model << ", " << setup.base.isl << " in / "
              << setup.base.osl << " out\n";
    for (const study::Factor f : r.factors) {
      std::cout << "  " << study::factor_name(f) << ": " << study::describe_change(setup, f)
                << "\n";
    }
    std::size_t points = 0;
    for (const study::SweepResult& s : r.sweeps) points += s.simulated();
    std::cout << "\nWaterfall in the order above and Shapley shares (x: multiplies tokens/s per "
                 "GPU; cost x: divides $ per million output tokens)\n\n"
              << table.to_text() << "\nClaims against the simulator's numbers\n\n"
              << study::claim_table(r).to_text();
    if (args.flag("subsets")) {
      std::cout << "\nBest deployment of every subset (factors at their target value)\n\n"
                << study::subset_table(r).to_text();
    }
    std::cout << "\n(" << r.sweeps.size() << " sweeps, " << points << " simulations in "
              << study::format_number(took.count(), 3) << " s)\n";
  }
  if (const auto path = args.value("csv")) write_text_file(*path, table.to_csv(), "--csv");
  if (const auto path = args.value("json")) {
    write_text_file(*path, study::attribution_json(r), "--json");
  }
  if (const auto path = args.value("plot")) {
    write_text_file(*path, study::attribution_svg(r), "--plot");
  }
  return 0;
}

}  // namespace moesim::cli
