// `moesim compare`: GB200 NVL72 versus HGX H200 (or any systems) side by side. With no
// arguments it compares the two default systems of the main job.
#include <iostream>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"
#include "sim/study/hardware_report.hpp"

namespace moesim::cli {

int run_compare(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{
      {"system", true, "NAME|PATH", "a system to compare (repeat; default: gb200-nvl72, hgx-h200)"},
      {"prices", true, "NAME|PATH", "price and power sheet (default: prices)"},
      {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"},
      format_option()};
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout << "usage: moesim compare [--system NAME|PATH ...] [--prices NAME|PATH]\n\n"
                   "Compares systems side by side, per GPU and per NVLink domain: dense FP4, FP8\n"
                   "and BF16 rates, HBM, NVLink, scale-out, price and power. With two systems the\n"
                   "last column is the ratio of the first to the second. Figures come from the\n"
                   "catalog (topologies/) and the price sheet, each with its source there.\n\n"
                << format_options(specs);
      return 0;
    }
  }
  const Args args("compare", words, specs);
  const config::Catalog catalog(
      args.value("data-dir").value_or(config::Catalog::default_data_dir().string()));
  std::vector<std::string> names = args.values("system");
  if (names.empty()) names = {"gb200-nvl72", "hgx-h200"};
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

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands{
      {"collective", "price one collective like nccl-tests (time, algbw, busbw; --sweep)",
       run_collective},
      {"compare", "compare systems side by side (default: GB200 NVL72 vs HGX H200)", run_compare},
      {"explain", "one engine step op by op: FLOPs, bytes, time, bound, expert loads", run_explain},
      {"import", "import hf CONFIG.json: write a model card from a Hugging Face config",
       run_import},
      {"list", "list the catalog: GPUs, systems, models, workloads, price sheets", run_list},
      {"run", "simulate serving a scenario request by request", run_run},
      {"show", "print one GPU or system with every figure and its unit", run_show},
  };
  return kCommands;
}

}  // namespace moesim::cli
