// `moesim sweep`: the Pareto frontier of tokens/s per GPU against tokens/s per user over the
// deployments of one model on one system (sim/study/sweep.hpp), and the helpers it shares with
// `moesim compare`.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/model.hpp"
#include "sim/llm/precision.hpp"
#include "sim/study/svg_plot.hpp"
#include "sim/study/sweep.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

/// Width of the progress bar in characters.
constexpr std::size_t kBarWidth = 30;

std::vector<OptionSpec> sweep_options();

}  // namespace

namespace {

/// Option `--name` given once (for every system) or once per system: the value for system `i`.
std::string per_system_option(const Args& args, const std::string& name, const std::string& what,
                              std::size_t i, std::size_t systems) {
  const std::vector<std::string> v = args.values(name);
  if (v.empty()) return "";
  if (v.size() == 1) return v[0];
  if (v.size() != systems) {
    throw ConfigError(
        kCommandLine, "--" + name,
        "one " + what + " for every system, or one per --system (" + std::to_string(systems) + ")",
        std::to_string(v.size()) + " " + what + "s");
  }
  return v[i];
}

}  // namespace

std::string stack_option(const Args& args, std::size_t i, std::size_t systems) {
  return per_system_option(args, "stack", "stack", i, systems);
}

std::string prefill_system_option(const Args& args, std::size_t i, std::size_t systems) {
  return per_system_option(args, "prefill-system", "prefill system", i, systems);
}

OptionSpec prefill_system_option_spec(bool per_system) {
  return {"prefill-system", true, "NAME|PATH",
          std::string("mixed hardware: put the disaggregated deployments' prefill pools on this "
                      "system (e.g. hgx-h200; decode stays on --system; default: the same)") +
              (per_system ? "; once, or once per --system" : "")};
}

OptionSpec stack_option_spec(bool per_system) {
  return {"stack", true, "NAME|PATH",
          std::string("software stack pricing the kernels: trtllm, sglang, roofline, ... "
                      "(topologies/stacks/; default: the system's)") +
              (per_system ? "; once, or once per --system" : "")};
}

namespace {

std::vector<OptionSpec> sweep_options() {
  return {{"model", true, "NAME|PATH", "model card (default: deepseek-r1)"},
          {"system", true, "NAME|PATH", "the system to deploy on (required)"},
          {"precision", true, "K=V,...",
           "weights=..,activations=..,kv_cache=.. or a YAML map (default: the checkpoint)"},
          {"isl", true, "N", "input tokens per request (default: 1024)"},
          {"osl", true, "N", "output tokens per request (default: 1024)"},
          {"prices", true, "NAME|PATH", "price and power sheet (default: prices)"},
          stack_option_spec(false),
          prefill_system_option_spec(false),
          {"jobs", true, "N", "simulations in parallel (default: every core)"},
          {"tp", true, "LIST|none", "TP plan sizes, e.g. 4,8 (default: 1,2,4,8)"},
          {"ep", true, "LIST|none", "attention-DP + EP widths (default: 8,16,32,64,72)"},
          {"max-batch", true, "LIST", "max batch sizes per attention-DP rank (default: 64,256)"},
          {"mtp", true, "LIST", "MTP draft tokens, 0 = off (default: 0,3)"},
          {"disagg", true, "LIST|none", "prefill:decode instance ratios (default: 1:1,1:2,1:4)"},
          {"max-concurrency", true, "N", "top of the concurrency ladder per instance (4096)"},
          {"quick", false, "", "the smaller search space of `moesim compare`"},
          skew_option_spec(),
          {"no-prune", false, "", "simulate the points the capacity rule would prune"},
          {"all", false, "", "print every point, pruned ones with the reason"},
          {"csv", true, "FILE", "write every point as CSV"},
          {"json", true, "FILE|-", "write every point as JSON"},
          {"plot", true, "FILE.svg", "draw the frontier as SVG"},
          seed_option("seed of every point (default: 1)"),
          {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"}};
}

constexpr const char* kSweepHelp =
    "usage: moesim sweep --system NAME [--model NAME] [--precision K=V,...] [--isl N --osl N]\n"
    "                    [--prices SHEET] [--jobs N] [--csv FILE] [--json FILE|-]\n"
    "                    [--plot FILE.svg] [--all]\n\n"
    "Explores deployments of one model on one system and prints the Pareto frontier of output\n"
    "tokens/s per GPU (throughput, cost) against tokens/s per user (interactivity, 1 / TPOT),\n"
    "with the deployment behind each point. Every point is a `moesim run` scenario (closed loop,\n"
    "fixed ISL/OSL) simulated with the plan-based step model, on every core.\n\n"
    "What is swept:\n"
    "  - aggregated plans: TP1/2/4/8 (EP 1 or EP = TP) and attention DP + EP 8/16/32/64/72,\n"
    "    wide EP spanning up to 4 NVLink domains (e.g. EP32 over 4 HGX servers), with EPLB\n"
    "    redundant experts where the experts do not divide; instances fill one NVLink domain\n"
    "    (\"TP8 x9\" = 9 TP8 instances in an NVL72);\n"
    "  - disaggregated prefill:decode instance ratios 1:1, 1:2, 1:4 (prefill TP8, decode on the\n"
    "    widest attention-DP + EP width inside one domain); --prefill-system NAME puts their\n"
    "    prefill pools on another system (mixed hardware, e.g. HGX H200 prefill for NVL72\n"
    "    decode: KV over the scale-out NICs, each pool's GPU-hours at its own price);\n"
    "  - MTP off and with 3 draft tokens (models with MTP layers; TensorRT-LLM's measured\n"
    "    acceptance); max batch 64 and 256 sequences per attention-DP rank;\n"
    "  - concurrency 1, 2, 4, ... up to 4096 per instance; 3c requests (at least 64) per point,\n"
    "    the first c as warm-up.\n\n"
    "Pruning (before simulating; --no-prune turns the second rule off):\n"
    "  - plans that are invalid or do not fit in HBM are dropped with the reason;\n"
    "  - concurrencies above what a deployment can run at once (max batch and KV cache per rank\n"
    "    x ranks x instances) only queue: the running batch, so tokens/s per GPU and per user, is\n"
    "    that at the capacity itself, which is added to the ladder; the rungs above are "
    "dropped.\n\n"
    "Reading the frontier: each line is a deployment no other point beats on both axes. Going\n"
    "down the list, interactivity falls and throughput per GPU rises; pick the row at the\n"
    "tokens/s per user your users need. $ per million output tokens = price per GPU-hour /\n"
    "(3600 x tokens/s per GPU / 1e6), from the price sheet; joules per output token from its\n"
    "all-in powers. Aggregated instances are simulated one at a time (they are independent).\n\n";

std::int64_t parse_positive(const Args& args, const char* name, std::int64_t fallback) {
  const auto v = args.value(name);
  if (!v) return fallback;
  try {
    std::size_t used = 0;
    const long long n = std::stoll(*v, &used);
    if (used == v->size() && n >= 1) return n;
  } catch (const std::exception&) {
  }
  throw ConfigError(kCommandLine, std::string("--") + name, "a positive integer", *v);
}

/// A comma-separated list of integers >= `min` for `--name`; "none" is the empty list.
std::vector<std::int32_t> parse_list(const std::string& name, const std::string& text,
                                     std::int32_t min) {
  std::vector<std::int32_t> out;
  if (text == "none") return out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    try {
      std::size_t used = 0;
      const int n = std::stoi(item, &used);
      if (used != item.size() || n < min) throw std::invalid_argument(item);
      out.push_back(n);
    } catch (const std::exception&) {
      throw ConfigError(kCommandLine, "--" + name,
                        "integers >= " + std::to_string(min) + " separated by commas, or none",
                        text);
    }
    start = comma + 1;
  }
  return out;
}

/// --disagg "1:2,1:4" or "none".
std::vector<study::DisaggRatio> parse_ratios(const std::string& text) {
  std::vector<study::DisaggRatio> out;
  if (text == "none") return out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    const std::size_t colon = item.find(':');
    const std::vector<std::int32_t> p = colon == std::string::npos
                                            ? std::vector<std::int32_t>{}
                                            : parse_list("disagg", item.substr(0, colon), 1);
    const std::vector<std::int32_t> d = colon == std::string::npos
                                            ? std::vector<std::int32_t>{}
                                            : parse_list("disagg", item.substr(colon + 1), 1);
    if (p.size() != 1 || d.size() != 1) {
      throw ConfigError(kCommandLine, "--disagg", "P:D ratios separated by commas, or none", text);
    }
    out.push_back({p[0], d[0]});
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::string precision_option(const Args& args, const std::string& name, const std::string& fallback,
                             const std::string& model, const config::Catalog& catalog) {
  const std::vector<std::string> given = args.values(name);
  if (given.size() > 1) {
    throw ConfigError(kCommandLine, "--" + name, "one precision (merge the keys into one list)",
                      "--" + name + " " + given[0] + " and --" + name + " " + given[1]);
  }
  return checked_precision(given.empty() ? fallback : given[0], "--" + name, model, catalog);
}

std::string checked_precision(const std::string& text, const std::string& option,
                              const std::string& model, const config::Catalog& catalog) {
  const std::string yaml = study::precision_yaml(text, option);
  if (yaml.empty()) return yaml;
  // The parser `moesim run` applies to a scenario's `precision:`, so that every command accepts
  // and rejects the same values, here before anything is simulated.
  const llm::ModelSpec spec = llm::load_model(catalog, model);
  try {
    llm::parse_precision(config::ConfigNode::parse(yaml, option), spec);
  } catch (const ConfigError& e) {
    throw ConfigError(kCommandLine, option + (e.key_path().empty() ? "" : " " + e.key_path()),
                      e.expected(), e.found(), e.suggestion());
  }
  return yaml;
}

study::SweepProgress terminal_progress(std::string what, std::string unit) {
  if (isatty(STDERR_FILENO) == 0) return {};
  return [what = std::move(what), unit = std::move(unit)](std::size_t done, std::size_t total,
                                                          std::chrono::duration<double> elapsed) {
    const std::size_t filled = total > 0 ? done * kBarWidth / total : kBarWidth;
    std::string bar(filled, '#');
    bar.resize(kBarWidth, '-');
    std::fprintf(stderr, "\r%s [%s] %zu/%zu %s, %.1f s", what.c_str(), bar.c_str(), done, total,
                 unit.c_str(), elapsed.count());
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

void warn_internal_errors(const study::SweepResult& r) {
  if (const std::string why = study::nothing_simulated_reason(r); !why.empty()) {
    std::cerr << "warning: " << r.system_name << ": " << why << "\n";
  }
  if (r.internal_errors() == 0) return;
  std::cerr << "warning: " << r.internal_errors() << " point(s) on " << r.system_name
            << " hit an internal error (please report; see --all):\n";
  for (const auto& p : r.points) {
    if (p.pruned.find("internal error") == 0) {
      std::cerr << "  " << p.label << ": " << p.pruned << "\n";
      break;
    }
  }
}

unsigned parse_jobs(const Args& args) {
  return static_cast<unsigned>(parse_positive(args, "jobs", 0));
}

std::int64_t parse_tokens(const Args& args, const char* name, std::int64_t fallback) {
  return parse_positive(args, name, fallback);
}

OptionSpec skew_option_spec() {
  return {"skew", true, "EXPONENT",
          "expert popularity Zipf(EXPONENT) in every MoE layer, e.g. 0.6 (default: uniform)"};
}

std::string skew_yaml(const Args& args) {
  const auto v = args.value("skew");
  if (!v) return "";
  double exponent = 0.0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), exponent);
  if (ec != std::errc{} || end != v->data() + v->size() || !std::isfinite(exponent) ||
      exponent < 0.0) {
    throw ConfigError(kCommandLine, "--skew",
                      "a Zipf exponent, a number >= 0 (e.g. 0.6; 0 is uniform)", *v);
  }
  std::array<char, 32> text{};
  const auto written = std::to_chars(text.data(), text.data() + text.size(), exponent);
  return "routing: {popularity: {kind: zipf, exponent: " + std::string(text.data(), written.ptr) +
         "}}";
}

int run_sweep(const std::vector<std::string>& words) {
  const auto specs = sweep_options();
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << kSweepHelp << format_options(specs);
      return 0;
    }
  }
  const Args args("sweep", words, specs);
  if (!args.positional().empty()) {
    throw ConfigError(kCommandLine, "moesim sweep", "options only (see --help)",
                      args.positional().front());
  }
  for (const char* out : {"csv", "json", "plot"}) {
    if (const auto path = args.value(out)) check_writable(*path, std::string("--") + out);
  }
  const auto system = args.value("system");
  if (!system) throw ConfigError(kCommandLine, "--system", "a system name or path", "nothing");
  const config::Catalog catalog = open_catalog(args);
  study::SweepBase base;
  base.model = args.value("model").value_or(base.model);
  base.system = *system;
  base.precision = precision_option(args, "precision", "", base.model, catalog);
  base.isl = parse_tokens(args, "isl", base.isl);
  base.osl = parse_tokens(args, "osl", base.osl);
  base.price_sheet = args.value("prices").value_or(base.price_sheet);
  base.stack = stack_option(args, 0, 1);
  base.prefill_system = prefill_system_option(args, 0, 1);
  base.seed = parse_seed(args, base.seed);
  base.extra_yaml = skew_yaml(args);
  study::SweepSpace space =
      args.flag("quick") ? study::SweepSpace::quick() : study::SweepSpace::standard();
  if (const auto v = args.value("tp")) space.tp_sizes = parse_list("tp", *v, 1);
  if (const auto v = args.value("ep")) space.ep_widths = parse_list("ep", *v, 2);
  if (const auto v = args.value("max-batch"))
    space.max_batch_sizes = parse_list("max-batch", *v, 1);
  if (const auto v = args.value("mtp")) space.mtp_draft_tokens = parse_list("mtp", *v, 0);
  if (const auto v = args.value("disagg")) space.disagg_ratios = parse_ratios(*v);
  space.max_concurrency =
      static_cast<std::int32_t>(parse_positive(args, "max-concurrency", space.max_concurrency));
  study::SweepOptions options;
  options.jobs = parse_jobs(args);
  options.prune = !args.flag("no-prune");
  options.progress = terminal_progress("sweep " + base.system);

  const auto start = std::chrono::steady_clock::now();
  const study::SweepResult r = study::run_sweep(base, space, catalog, options);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;

  warn_internal_errors(r);
  const bool json_stdout = args.value("json") == std::optional<std::string>("-");
  if (!json_stdout) {
    const std::string prefill = base.prefill_system.empty()
                                    ? ""
                                    : " (disaggregated prefill on " + base.prefill_system + ")";
    std::cout << "Sweep of " << base.model << " on " << r.system_name << prefill << ", precision "
              << (base.precision.empty() ? "checkpoint" : base.precision) << ", " << base.isl
              << " in / " << base.osl << " out\n"
              << "prices: " << r.price_source << "\n"
              << study::stack_note(r) << "\n"
              << r.deployments.size() << " deployments, " << r.points.size()
              << " points: " << r.simulated() << " simulated, " << r.pruned() << " pruned, "
              << r.frontier.size() << " on the frontier (" << study::format_number(took.count(), 3)
              << " s)\n\n";
    std::cout << (args.flag("all") ? study::sweep_table(r, true).to_text()
                                   : study::frontier_summary(r).to_text());
  }
  if (const auto path = args.value("csv")) {
    write_text_file(*path, study::sweep_table(r, true).to_csv(), "--csv");
  }
  if (const auto path = args.value("json")) {
    write_text_file(*path, study::sweep_table(r, true).to_json(), "--json");
  }
  if (const auto path = args.value("plot")) {
    write_text_file(*path,
                    study::render_svg(study::frontier_plot(
                        std::span<const study::SweepResult>(&r, 1), {},
                        base.model + " on " + r.system_name + ", " + std::to_string(base.isl) +
                            "/" + std::to_string(base.osl))),
                    "--plot");
  }
  return 0;
}

}  // namespace moesim::cli
