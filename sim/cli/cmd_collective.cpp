// `moesim collective`: one collective on a system or cluster, priced by the network model, with
// nccl-tests' time, algorithm bandwidth and bus bandwidth; --sweep over message sizes.
#include <algorithm>
#include <charconv>
#include <iostream>
#include <string>
#include <vector>

#include "sim/cli/args.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/output.hpp"
#include "sim/config/catalog.hpp"
#include "sim/core/error.hpp"
#include "sim/core/unit_parse.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/collectives.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/system.hpp"
#include "sim/study/table.hpp"

namespace moesim::cli {
namespace {

const SourceLocation kCommandLine{"<command line>", 0, 0};

int parse_positive(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    const int n = std::stoi(text, &used);
    if (used == text.size() && n > 0) return n;
  } catch (const std::exception&) {
  }
  throw ConfigError(kCommandLine, flag, "a positive integer", text);
}

Bytes parse_size(const std::string& flag, const std::string& text) {
  try {
    return parse_bytes(text);
  } catch (const UnitError& e) {
    throw ConfigError(kCommandLine, flag, e.expected(), e.found());
  }
}

void add_row(study::Table& t, const hw::CollectiveResult& r) {
  t.add_row({std::to_string(r.size.base()), study::format_number(to_microseconds(r.time), 5),
             study::format_number(in_gigabytes_per_second(r.algbw), 5),
             study::format_number(in_gigabytes_per_second(r.busbw), 5),
             std::string(hw::to_string(r.algorithm)), std::string(hw::to_string(r.protocol)),
             std::string(hw::to_string(r.pricing))});
}

}  // namespace

int parse_domains(const Args& args, const hw::SystemSpec& system) {
  const auto text = args.value("domains");
  if (!text) return 1;
  const int most = std::max(hw::kMaxClusterGpus / std::max(system.domain_size, 1), 1);
  const std::string expected =
      "a whole number of NVLink domains from 1 to " + std::to_string(most) + " (" + system.name +
      " has " + std::to_string(system.domain_size) +
      " GPUs per domain, and a cluster holds at most " + std::to_string(hw::kMaxClusterGpus) +
      " GPUs: the routes between every pair are stored)";
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc{} || end != text->data() + text->size() || n < 1 || n > most) {
    throw ConfigError(kCommandLine, "--domains", expected, *text);
  }
  return static_cast<int>(n);
}

int run_collective(const std::vector<std::string>& words) {
  const std::vector<OptionSpec> specs{
      {"system", true, "NAME|PATH", "system (default: gb200-nvl72)"},
      {"domains", true, "N", "NVLink domains (nodes, racks) joined by the scale-out fabric"},
      {"op", true, "OP", "allreduce, allgather, reducescatter, alltoall, sendrecv"},
      {"bytes", true, "SIZE", "message size in nccl-tests' convention, e.g. \"64 MiB\""},
      {"ranks", true, "N", "GPUs taking part (default: every GPU of the cluster)"},
      {"algorithm", true, "ALGO", "ring, tree, nvls or direct (default: the fastest available)"},
      {"sweep", false, "", "sizes from --min to --max doubling, like nccl-tests -f 2"},
      {"min", true, "SIZE", "smallest sweep size (default: 1 KiB)"},
      {"max", true, "SIZE", "largest sweep size (default: 8 GiB)"},
      {"flow-model", false, "", "price through the fluid max-min flow model (slow, exact)"},
      {"data-dir", true, "DIR", "catalog root (default: $MOESIM_DATA_DIR or the source tree)"},
      format_option()};
  for (const auto& w : words) {
    if (w == "--help" || w == "-h") {
      std::cout
          << "usage: moesim collective --op OP [--bytes SIZE | --sweep] [options]\n\n"
             "Prices one collective on the topology of a system or cluster and prints\n"
             "nccl-tests' figures: time, algorithm bandwidth (size / time) and bus bandwidth\n"
             "(algbw x 2(n-1)/n for allreduce, (n-1)/n for allgather, reducescatter and\n"
             "alltoall, 1 for sendrecv). Efficiencies and latencies come from\n"
             "topologies/network.yaml, each with its source.\n\n"
             "example:\n  moesim collective --system gb200-nvl72 --op alltoall --bytes "
             "\"64 MiB\" --ranks 72\n\n"
          << format_options(specs);
      return 0;
    }
  }
  const Args args("collective", words, specs);
  if (!args.positional().empty()) {
    throw ConfigError(kCommandLine, "moesim collective", "options only (see --help)",
                      args.positional().front());
  }
  const config::Catalog catalog = open_catalog(args);
  const hw::SystemSpec system =
      hw::load_system(catalog, args.value("system").value_or("gb200-nvl72"));
  const int domains = parse_domains(args, system);
  const hw::NetworkEfficiency network = hw::load_network_efficiency(catalog);
  const hw::ClusterSpec cluster = hw::make_cluster(system, domains, network);
  const auto op_text = args.value("op");
  if (!op_text) throw ConfigError(kCommandLine, "--op", "an operation (see --help)", "nothing");
  const hw::CollectiveOp op = hw::parse_collective_op(*op_text);
  const int ranks =
      args.value("ranks") ? parse_positive("--ranks", *args.value("ranks")) : cluster.gpu_count();
  hw::CollectiveOptions options;
  if (const auto a = args.value("algorithm")) options.algorithm = hw::parse_algorithm(*a);
  options.flow_model = args.flag("flow-model");

  study::Table table(
      {"size_B", "time_us", "algbw_GBps", "busbw_GBps", "algorithm", "protocol", "pricing"});
  if (args.flag("sweep")) {
    const Bytes lo = parse_size("--min", args.value("min").value_or("1 KiB"));
    const Bytes hi = parse_size("--max", args.value("max").value_or("8 GiB"));
    for (const auto& r : hw::sweep_collective(cluster, network, op, ranks, lo, hi, options)) {
      add_row(table, r);
    }
  } else {
    const auto size = args.value("bytes");
    if (!size) throw ConfigError(kCommandLine, "--bytes", "a size such as \"64 MiB\"", "nothing");
    add_row(table, hw::price_collective(cluster, network, op, parse_size("--bytes", *size), ranks,
                                        options));
  }
  if (args.value("format").value_or("text") == "text") {
    std::cout << std::string(hw::to_string(op)) << " over " << ranks << " GPUs of " << cluster.name
              << "\n\n";
  }
  print_table(args, table);
  return 0;
}

}  // namespace moesim::cli
