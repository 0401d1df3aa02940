// `moesim compare`: the README's main job. With no arguments: DeepSeek-R1, 1k in / 1k out, GB200
// NVL72 in NVFP4 versus HGX H200 in FP8, each at its best deployments found by a sweep
// (sim/study/sweep.hpp), compared at 20, 50 and 100 tokens/s per user. `--hardware` prints the
// datasheet comparison of the systems instead.
#include <chrono>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"
#include "sim/study/hardware_report.hpp"
#include "sim/study/svg_plot.hpp"
#include "sim/study/sweep.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

/// The two systems, precisions and interactivity levels of the main job (issue 6 of moesim):
/// GB200 NVL72 with NVFP4 weights versus HGX H200 with DeepSeek-R1's FP8 checkpoint, both with
/// an FP8 KV cache (35,136 B per token for DeepSeek-R1 MLA, MODELING.md), at 20, 50 and 100
/// tokens/s per user.
constexpr const char* kDefaultSystemA = "gb200-nvl72";
constexpr const char* kDefaultSystemB = "hgx-h200";
constexpr const char* kDefaultPrecisionA = "{weights: nvfp4, kv_cache: fp8}";
constexpr const char* kDefaultPrecisionB = "{weights: checkpoint, kv_cache: fp8}";
constexpr double kLevels[] = {20.0, 50.0, 100.0};

std::vector<OptionSpec> compare_options() {
  return {{"model", true, "NAME|PATH", "model card (default: deepseek-r1)"},
          {"system", true, "NAME|PATH", "a system (give two; default: gb200-nvl72 then hgx-h200)"},
          stack_option_spec(true),
          prefill_system_option_spec(true),
          {"precision-a", true, "K=V,...",
           "precision on the first system (default for the "
           "main job: weights=nvfp4,kv_cache=fp8)"},
          {"precision-b", true, "K=V,...",
           "precision on the second system (default for the "
           "main job: weights=checkpoint,kv_cache=fp8)"},
          {"isl", true, "N", "input tokens per request (default: 1024)"},
          {"osl", true, "N", "output tokens per request (default: 1024)"},
          skew_option_spec(),
          {"prices", true, "NAME|PATH", "price and power sheet (default: prices)"},
          {"jobs", true, "N", "simulations in parallel (default: every core)"},
          seed_option("seed of every point (default: 1)"),
          {"full", false, "", "sweep the whole space of `moesim sweep` (slower)"},
          {"max-concurrency", true, "N", "top of the concurrency ladder per instance (4096)"},
          {"plot", true, "FILE.svg", "draw both frontiers and the 20/50/100 tok/s/user lines"},
          {"csv", true, "FILE", "write the comparison at 20/50/100 tok/s/user as CSV"},
          {"json", true, "FILE|-", "write the comparison and every point of both sweeps"},
          {"hardware", false, "", "print the datasheet comparison of the systems instead"},
          {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"},
          format_option()};
}

constexpr const char* kCompareHelp =
    "usage: moesim compare [--model M] [--system A --system B] [--precision-a P]\n"
    "                      [--precision-b P] [--isl N --osl N] [--prices SHEET]\n"
    "                      [--plot FILE.svg] [--csv FILE] [--json FILE|-] [--hardware]\n\n"
    "With no arguments: DeepSeek-R1, 1024 in / 1024 out, GB200 NVL72 with NVFP4 weights versus\n"
    "HGX H200 with the FP8 checkpoint (FP8 KV cache on both). Each system is swept (see\n"
    "`moesim sweep --help`) over a smaller space: TP4/TP8, attention DP + EP 8/16/32/72, max\n"
    "batch 256, MTP off/3, no disaggregation, concurrency 1, 2, 4, ... 256, 1024, 4096, 16384\n"
    "per instance. Its Pareto frontier of tokens/s per GPU against tokens/s per user is\n"
    "printed. Then, at 20, 50 and 100 tokens/s per user: the best per-GPU throughput of each\n"
    "system at or above that level, the throughput ratio A / B, the cost-per-token ratio B / A\n"
    "($ per million output tokens from the price sheet) and the deployment each uses; '-'\n"
    "where a system cannot reach the level.\n"
    "--prefill-system NAME (once for both sides, or once per --system in order) adds the\n"
    "disaggregated layouts of `moesim sweep` (1:1, 1:2, 1:4) with their prefill pools on NAME:\n"
    "mixed hardware, e.g. HGX H200 prefill for NVL72 decode (KV over the scale-out NICs, each\n"
    "pool's GPU-hours at its own system's price).\n"
    "--hardware prints the datasheet table instead (dense FP4/FP8/BF16 peaks, HBM, NVLink,\n"
    "scale-out, price and power per GPU and per NVLink domain).\n\n";

int run_hardware(const Args& args, const config::Catalog& catalog) {
  std::vector<std::string> names = args.values("system");
  if (names.empty()) names = {kDefaultSystemA, kDefaultSystemB};
  std::vector<hw::SystemSpec> systems;
  for (const auto& n : names) systems.push_back(hw::load_system(catalog, n));
  const std::string sheet = args.value("prices").value_or(std::string(hw::kDefaultPriceSheet));
  const hw::PriceSheet prices = hw::load_price_sheet(catalog, sheet);
  const bool text = args.value("format").value_or("text") == "text";
  if (text) {
    std::cout << "Hardware comparison (dense tensor peaks; prices: " << prices.default_column()
              << ", from " << prices.location().file << ")\n\n";
  }
  print_table(args, study::hardware_comparison(systems, prices));
  return 0;
}

}  // namespace

int run_compare(const std::vector<std::string>& words) {
  const auto specs = compare_options();
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << kCompareHelp << format_options(specs);
      return 0;
    }
  }
  const Args args("compare", words, specs);
  format_of(args);  // checked before anything runs
  if (!args.positional().empty()) {
    throw ConfigError(kCommandLine, "moesim compare", "options only (see --help)",
                      args.positional().front());
  }
  const config::Catalog catalog = open_catalog(args);
  if (args.flag("hardware")) return run_hardware(args, catalog);
  for (const char* out : {"csv", "json", "plot"}) {
    if (const auto path = args.value(out)) check_writable(*path, std::string("--") + out);
  }

  std::vector<std::string> systems = args.values("system");
  const bool main_job = systems.empty();
  if (main_job) systems = {kDefaultSystemA, kDefaultSystemB};
  if (systems.size() != 2) {
    throw ConfigError(kCommandLine, "--system", "two systems (--system A --system B)",
                      std::to_string(systems.size()) + " given");
  }
  study::SweepBase base;
  base.model = args.value("model").value_or(base.model);
  const std::string precision_a = precision_option(
      args, "precision-a", main_job ? kDefaultPrecisionA : "", base.model, catalog);
  const std::string precision_b = precision_option(
      args, "precision-b", main_job ? kDefaultPrecisionB : "", base.model, catalog);
  base.isl = parse_tokens(args, "isl", base.isl);
  base.osl = parse_tokens(args, "osl", base.osl);
  base.price_sheet = args.value("prices").value_or(base.price_sheet);
  base.seed = parse_seed(args, base.seed);
  base.extra_yaml = skew_yaml(args);
  study::SweepSpace space =
      args.flag("full") ? study::SweepSpace::standard() : study::SweepSpace::quick();
  study::SweepOptions options;
  options.jobs = parse_jobs(args);
  space.max_concurrency =
      static_cast<std::int32_t>(parse_tokens(args, "max-concurrency", space.max_concurrency));
  // Mixed hardware only exists in disaggregated layouts: --prefill-system brings those of
  // `moesim sweep` into the quick space.
  if (!args.values("prefill-system").empty() && space.disagg_ratios.empty()) {
    space.disagg_ratios = study::SweepSpace::standard().disagg_ratios;
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<study::SweepResult> results;
  const std::string precisions[] = {precision_a, precision_b};
  for (std::size_t i = 0; i < 2; ++i) {
    study::SweepBase b = base;
    b.system = systems[i];
    b.precision = precisions[i];
    b.stack = stack_option(args, i, 2);
    b.prefill_system = prefill_system_option(args, i, 2);
    options.progress = terminal_progress("sweep " + b.system);
    results.push_back(study::run_sweep(b, space, catalog, options));
    warn_internal_errors(results.back());
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  if (results[0].system_name == results[1].system_name && results[0].stack != results[1].stack) {
    // One system under two stacks ("what does a software update give"): name the columns by
    // stack too.
    for (study::SweepResult& r : results) r.system_name += " [" + r.stack + "]";
  }
  const study::SweepResult& a = results[0];
  const study::SweepResult& b = results[1];
  const study::Table table = study::compare_table(a, b, kLevels);

  const std::string format = args.value("format").value_or("text");
  const bool json_stdout = args.value("json") == std::optional<std::string>("-");
  if (format != "text") {
    print_table(args, table);
  } else if (!json_stdout) {
    std::cout << base.model << ", " << base.isl << " in / " << base.osl << " out: " << a.system_name
              << " " << (precision_a.empty() ? "checkpoint" : precision_a) << " vs "
              << b.system_name << " " << (precision_b.empty() ? "checkpoint" : precision_b) << "\n";
    for (const study::SweepResult* r : {&a, &b}) {
      std::cout << "\n"
                << r->system_name << ": " << r->simulated() << " points simulated, " << r->pruned()
                << " pruned, " << r->frontier.size() << " on the frontier\n"
                << "prices: " << r->price_source << "\n"
                << study::stack_note(*r) << "\n"
                << study::frontier_summary(*r).to_text();
    }
    std::cout << "\nAt each interactivity level: best output tokens/s per GPU among points at or "
                 "above it;\nthroughput ratio "
              << a.system_name << " / " << b.system_name << ", cost per token ratio "
              << b.system_name << " / " << a.system_name << "\n\n"
              << table.to_text() << "\n(" << a.simulated() + b.simulated() << " simulations in "
              << study::format_number(took.count(), 3) << " s)\n";
  }
  if (const auto path = args.value("csv")) write_text_file(*path, table.to_csv(), "--csv");
  if (const auto path = args.value("json")) {
    const std::string json =
        "{\"comparison\": " + table.to_json() + ",\n\"" + study::json_escape(a.system_name) +
        "\": " + study::sweep_table(a, true).to_json() + ",\n\"" +
        study::json_escape(b.system_name) + "\": " + study::sweep_table(b, true).to_json() + "}\n";
    write_text_file(*path, json, "--json");
  }
  if (const auto path = args.value("plot")) {
    const std::string title = base.model + ", " + std::to_string(base.isl) + "/" +
                              std::to_string(base.osl) + ": " + a.system_name + " vs " +
                              b.system_name;
    write_text_file(*path, study::render_svg(study::frontier_plot(results, kLevels, title)),
                    "--plot");
  }
  return 0;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands{
      {"attribute", "why the target beats the baseline, factor by factor (waterfall, Shapley)",
       run_attribute},
      {"calibrate", "fit a stack's kernel costs to per-op measurements (-o PROFILE.yaml)",
       run_calibrate},
      {"collective", "price one collective like nccl-tests (time, algbw, busbw; --sweep)",
       run_collective},
      {"compare", "GB200 NVL72 vs HGX H200 (or any two systems) at their best deployments",
       run_compare},
      {"explain", "one engine step op by op: FLOPs, bytes, time, bound, expert loads", run_explain},
      {"import", "import hf CONFIG.json: write a model card from a Hugging Face config",
       run_import},
      {"list", "list the catalog: GPUs, systems, models, workloads, price sheets", run_list},
      {"run", "simulate serving a scenario request by request", run_run},
      {"show", "print one GPU, system or model with every figure and its unit", run_show},
      {"size", "how many GPUs and which deployment serve a load under an SLA, at the lowest cost",
       run_size},
      {"study", "a grid of sweeps from a study file, in one process or over Open MPI ranks",
       run_study},
      {"sweep", "Pareto frontier of tok/s per GPU vs tok/s per user over deployments", run_sweep},
      {"validate", "predicted against measured time per op, with errors per op kind", run_validate},
  };
  return kCommands;
}

}  // namespace moesim::cli
