// `moesim run SCENARIO`: one serving simulation, request by request, with a readable summary and
// machine-readable outputs (JSON metrics, per-request CSV, a Perfetto trace).
#include <chrono>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/serve/metrics.hpp"
#include "sim/serve/report.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/scenario.hpp"
#include "sim/step/step_models.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

/// Steps a trace holds by default: a DeepSeek-R1 step with its per-kernel spans is about 33 KB
/// of trace JSON (the first 1,000 steps of scenarios/dsr1-h200-aggregated.yaml: 32.7 MB).
constexpr std::int64_t kDefaultTraceSteps = 10000;

std::vector<OptionSpec> run_options() {
  return {{"set", true, "KEY=VALUE", "override a scenario key, e.g. deployment.aggregated.ep=72"},
          seed_option("random seed (default: the scenario's seed)"),
          stack_option_spec(false),
          {"replicas", true, "N", "run N seeds (seed, seed+1, ...) and report 95% intervals"},
          {"json", true, "FILE|-", "write every metric as JSON (units in the key names)"},
          {"csv", true, "FILE|-", "write one CSV row per request, as requests complete"},
          {"trace", true, "FILE", "write a Chrome/Perfetto trace (open in ui.perfetto.dev)"},
          {"trace-steps", true, "N",
           "steps the trace holds, the first N (default 10000: about 330 MB of JSON with "
           "DeepSeek-R1's per-kernel detail)"},
          {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"}};
}

std::int64_t parse_count(const Args& args, const char* name, std::int64_t fallback) {
  const auto v = args.value(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    const long long n = std::stoll(*v, &used);
    if (used == v->size() && n >= 0) return n;
  } catch (const std::exception&) {
  }
  throw ConfigError(kCommandLine, std::string("--") + name, "a non-negative integer", *v);
}

/// A progress bar on a terminal for a job that has run for more than a second (short runs draw
/// nothing); none when stderr is not a terminal.
serve::Progress run_progress(std::string what, std::string unit) {
  study::SweepProgress bar = terminal_progress(std::move(what), std::move(unit));
  if (!bar) return {};
  const auto start = std::chrono::steady_clock::now();
  return [bar = std::move(bar), start](std::int64_t done, std::int64_t total) {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (elapsed.count() < 1.0) return;
    bar(static_cast<std::size_t>(done), static_cast<std::size_t>(total), elapsed);
  };
}

}  // namespace

int run_run(const std::vector<std::string>& words) {
  const auto specs = run_options();
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << "usage: moesim run SCENARIO.yaml [options]\n\n"
                   "Simulates serving request by request: arrivals, continuous batching, chunked\n"
                   "prefill, KV cache, optional prefill/decode disaggregation and MTP. Prints a\n"
                   "summary: tokens/s per GPU, tokens/s per user, TTFT/TPOT percentiles, goodput,\n"
                   "$ per million tokens and joules per token. Every scenario key is described by\n"
                   "`moesim explain --schema`.\n\n"
                << format_options(specs);
      return 0;
    }
  }
  const Args args("run", words, specs);
  if (args.positional().size() != 1) {
    throw ConfigError(kCommandLine, "moesim run", "one scenario file",
                      std::to_string(args.positional().size()) + " positional words");
  }
  std::string on_stdout;
  for (const char* out : {"json", "csv", "trace"}) {
    const auto path = args.value(out);
    if (!path) continue;
    check_writable(*path, std::string("--") + out);
    if (*path != "-") continue;
    if (!on_stdout.empty()) {
      throw ConfigError(kCommandLine, std::string("--") + out,
                        "a file: standard output already takes " + on_stdout, "-");
    }
    on_stdout = std::string("--") + out;
  }
  const config::Catalog catalog = open_catalog(args);
  std::vector<std::string> settings = args.values("set");
  if (const std::string stack = stack_option(args, 0, 1); !stack.empty()) {
    settings.push_back("stack=" + stack);  // --stack NAME is --set stack=NAME
  }
  serve::Scenario scenario = serve::load_scenario(args.positional()[0], settings, catalog);
  const std::uint64_t seed = parse_seed(args, scenario.seed);
  const auto replicas = parse_count(args, "replicas", 1);
  if (replicas < 1) throw ConfigError(kCommandLine, "--replicas", "at least 1", "0");
  if (replicas > std::numeric_limits<std::int32_t>::max()) {
    throw ConfigError(kCommandLine, "--replicas", "at most 2147483647 replicas",
                      std::to_string(replicas));
  }
  for (const char* per_run : {"csv", "trace"}) {
    if (replicas > 1 && args.value(per_run)) {
      throw ConfigError(kCommandLine, std::string{"--"} + per_run,
                        "one run (a file per run: drop --replicas, or pick one with --seed)",
                        "--replicas " + std::to_string(replicas));
    }
  }

  step::BuiltModels built = step::build_step_models(scenario, catalog);
  for (const auto& note : built.notes) std::cerr << "note: " << note << "\n";
  const hw::PriceSheet prices = hw::load_price_sheet(catalog, scenario.price_sheet);
  const std::optional<serve::Pricing> pricing =
      serve::pricing_for(prices, scenario.primary_system_name, scenario.decode_system_name);
  for (const std::string& name : {scenario.primary_system_name, scenario.decode_system_name}) {
    if (prices.find(name) != nullptr) continue;
    std::cerr << "note: price sheet " << prices.location().file << " has no entry for '" << name
              << "': cost and energy are not reported\n";
    break;
  }
  serve::ReportInfo info{{"scenario", scenario.name},
                         {"system", scenario.system_name},
                         {"seed", std::to_string(seed)},
                         {"step_model", built.models.primary->describe()}};
  // Mixed hardware: each pool's system, in the JSON and above the summary.
  std::string mixed;
  if (scenario.mixed()) {
    info.insert(info.begin() + 2, {{"prefill_system", scenario.primary_system_name},
                                   {"decode_system", scenario.decode_system_name}});
    mixed = "Mixed hardware: prefill on " + scenario.primary_system_name + ", decode on " +
            scenario.decode_system_name + " (KV cache over the scale-out network)\n";
  }
  const serve::EngineConfig engine = scenario.engine_config();
  if (replicas > 1) {
    const serve::ReplicaSummary summary = serve::run_replicas(
        engine, scenario.workload, built.models.view(), seed, static_cast<std::int32_t>(replicas),
        pricing, run_progress("run " + scenario.name, "replicas"));
    std::cout << mixed << serve::summary_text(summary.first);
    const std::string json = serve::replicas_json(summary, info);
    if (const auto path = args.value("json")) write_text_file(*path, json, "--json");
    return 0;
  }
  serve::RunOptions options;
  options.record_steps = args.value("trace").has_value();
  options.max_recorded_steps = parse_count(args, "trace-steps", kDefaultTraceSteps);
  if (options.max_recorded_steps < 1) {
    throw ConfigError(kCommandLine, "--trace-steps", "at least 1 step", "0");
  }
  options.progress = run_progress("run " + scenario.name, "requests");
  serve::RunResult result;
  auto simulate = [&] {
    result =
        serve::run_serving(engine, scenario.workload, built.models.view(), seed, pricing, options);
  };
  if (const auto path = args.value("csv")) {
    // Rows are written as requests complete: a run of any length writes its CSV in constant
    // memory.
    write_file(*path, "--csv", [&](std::ostream& out) {
      serve::RequestsCsvWriter csv(out, scenario.workload);
      options.on_request = [&csv](const serve::RequestRecord& r) { csv.write(r); };
      simulate();
    });
  } else {
    simulate();
  }
  const bool data_on_stdout = args.value("json") == std::optional<std::string>("-") ||
                              args.value("csv") == std::optional<std::string>("-");
  if (!data_on_stdout) std::cout << mixed << serve::summary_text(result.metrics);
  if (const auto path = args.value("json")) {
    write_text_file(*path, serve::metrics_json(result.metrics, info), "--json");
  }
  if (args.value("trace") &&
      static_cast<std::int64_t>(result.steps.size()) == options.max_recorded_steps) {
    std::cerr << "note: the trace holds the first " << options.max_recorded_steps
              << " steps of the run (--trace-steps N to change)\n";
  }
  if (const auto path = args.value("trace")) {
    write_file(*path, "--trace",
               [&](std::ostream& out) { serve::write_trace_json(out, result.steps, engine); });
  }
  return 0;
}

}  // namespace moesim::cli
