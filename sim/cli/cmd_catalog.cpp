// `moesim list` and `moesim show`: what the catalog holds, and one entry in full.
#include <algorithm>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"
#include "sim/cost/efficiency.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/price_sheet.hpp"
#include "sim/hw/system.hpp"
#include "sim/hw/topology.hpp"
#include "sim/llm/model.hpp"
#include "sim/study/hardware_report.hpp"
#include "sim/study/model_report.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

OptionSpec data_dir_option() {
  return {"data-dir", true, "DIR",
          "catalog root holding topologies/, models/, workloads/ (default: $MOESIM_DATA_DIR or "
          "the source tree)"};
}

bool wants_help(const std::vector<std::string>& words) {
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") return true;
  }
  return false;
}

/// The default parameter tables of the step-time models, which share topologies/ with the price
/// sheets: listed in a section of their own, not as price sheets.
constexpr std::string_view kParameterTableNames[] = {cost::kDefaultEfficiency,
                                                     hw::kDefaultNetworkParams};

bool is_parameter_table(std::string_view name) {
  return std::find(std::begin(kParameterTableNames), std::end(kParameterTableNames), name) !=
         std::end(kParameterTableNames);
}

/// Which entries of a folder a section lists.
enum class Entries { kAll, kPriceSheets, kParameterTables };

struct Section {
  const char* kind;
  const char* dir;
  Entries entries = Entries::kAll;
};
constexpr Section kSections[] = {{"gpus", "topologies/gpus"},
                                 {"systems", "topologies/systems"},
                                 {"models", "models"},
                                 {"workloads", "workloads"},
                                 {"price sheets", "topologies", Entries::kPriceSheets},
                                 {"model parameters: kernel efficiencies and network figures",
                                  "topologies", Entries::kParameterTables}};

bool listed(const Section& s, std::string_view name) {
  switch (s.entries) {
    case Entries::kAll: return true;
    case Entries::kPriceSheets: return !is_parameter_table(name);
    case Entries::kParameterTables: return is_parameter_table(name);
  }
  return true;
}

/// The `description:` of a catalog entry under topologies/ (price sheets and parameter tables),
/// or nothing when it has none.
std::string description_of(const config::Catalog& catalog, const Section& s,
                           const std::string& name) {
  const config::ConfigNode node = catalog.load(s.dir, name);
  if (!node.is_map()) return {};
  const auto d = node.get("description");
  return d && d->is_scalar() ? d->as_string() : std::string{};
}

}  // namespace

int run_list(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{data_dir_option()};
  if (wants_help(words)) {
    std::cout
        << "usage: moesim list [--data-dir DIR]\n\n"
           "Lists the catalog: GPUs, systems, models, workloads, price sheets, and the parameter\n"
           "tables of the step-time model (kernel efficiencies, network figures). Use a "
           "GPU or\nsystem name with `moesim show`, and any name wherever a catalog name "
           "is accepted.\n\n"
        << format_options(specs);
    return 0;
  }
  const Args args("list", words, specs);
  if (!args.positional().empty()) {
    throw ConfigError(kCommandLine, "moesim list", "no positional arguments",
                      args.positional().front());
  }
  const config::Catalog catalog = open_catalog(args);
  std::cout << "catalog: " << catalog.data_dir().string() << "\n";
  for (const auto& s : kSections) {
    std::cout << "\n" << s.kind << " (" << s.dir << "/):\n";
    for (const auto& name : catalog.names(s.dir)) {
      if (!listed(s, name)) continue;
      std::cout << "  " << name;
      if (std::string_view(s.dir) == "topologies/gpus") {
        std::cout << "  " << hw::load_gpu(catalog, name).description;
      } else if (std::string_view(s.dir) == "topologies/systems") {
        std::cout << "  " << hw::load_system(catalog, name).description;
      } else if (std::string_view(s.dir) == "topologies") {
        const std::string d = description_of(catalog, s, name);
        if (!d.empty()) std::cout << "  " << d;
      }
      std::cout << "\n";
    }
  }
  return 0;
}

int run_show(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{
      data_dir_option(),
      format_option(),
      {"prices", true, "NAME|PATH", "price sheet for `show system` (default: prices)"},
      {"graph", false, "", "show system: print the topology as Graphviz DOT instead"}};
  if (wants_help(words) || words.empty()) {
    std::cout << "usage: moesim show gpu NAME|PATH\n"
                 "       moesim show system NAME|PATH [--graph]\n"
                 "       moesim show model NAME|PATH\n\n"
                 "Prints every figure of a catalog entry with its unit; for a system also the\n"
                 "derived per-NVLink-domain figures and its price and power entry; for a model\n"
                 "its architecture, total and active parameters, KV-cache bytes per token (BF16,\n"
                 "FP8) and weight bytes for the checkpoint, BF16, FP8 and NVFP4.\n\n"
              << format_options(specs);
    return words.empty() ? 2 : 0;
  }
  const Args args("show", words, specs);
  const auto& pos = args.positional();
  const std::vector<std::string> kinds{"gpu", "system", "model"};
  if (pos.size() != 2) {
    throw ConfigError(kCommandLine, "moesim show",
                      "a kind (gpu, system or model) and a NAME or PATH",
                      std::to_string(pos.size()) + " words");
  }
  const config::Catalog catalog = open_catalog(args);
  if (pos[0] == "gpu") {
    print_table(args, study::gpu_report(hw::load_gpu(catalog, pos[1])));
  } else if (pos[0] == "system") {
    const hw::SystemSpec system = hw::load_system(catalog, pos[1]);
    if (args.flag("graph")) {
      const hw::NetworkEfficiency network = hw::load_network_efficiency(catalog);
      std::cout << hw::build_topology(hw::make_cluster(system, 1, network), network).to_dot();
      return 0;
    }
    const hw::PriceSheet prices = hw::load_price_sheet(
        catalog, args.value("prices").value_or(std::string(hw::kDefaultPriceSheet)));
    print_table(args, study::system_report(system, prices.find(system.name)));
  } else if (pos[0] == "model") {
    print_table(args, study::model_report(llm::load_model(catalog, pos[1])));
  } else {
    throw ConfigError(kCommandLine, "moesim show", "gpu, system or model", pos[0],
                      closest_match(pos[0], kinds));
  }
  return 0;
}

}  // namespace moesim::cli
