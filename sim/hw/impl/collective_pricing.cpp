// Entry points for tools and the CLI: names of ops, algorithms and protocols, and nccl-tests
// style pricing of one size or a sweep of sizes on a cluster (sim/hw/collectives.hpp).

#include <cctype>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"
#include "sim/hw/collectives.hpp"

namespace moesim::hw {
namespace {

template <class E>
E parse_name(std::string_view name, std::string_view key,
             std::initializer_list<std::pair<std::string_view, E>> names) {
  std::string canonical;
  for (const char c : name) {
    if (c != '_') canonical += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::vector<std::string> choices;
  for (const auto& [n, value] : names) {
    if (n == canonical) return value;
    choices.emplace_back(n);
  }
  std::string expected = "one of";
  for (const std::string& c : choices) expected += " " + c;
  throw ConfigError({"<command line>", 0, 0}, std::string{key}, expected, std::string{name},
                    closest_match(canonical, choices));
}

}  // namespace

CollectiveOp parse_collective_op(std::string_view name) {
  return parse_name<CollectiveOp>(name, "collective.op",
                                  {{"allreduce", CollectiveOp::kAllReduce},
                                   {"allgather", CollectiveOp::kAllGather},
                                   {"reducescatter", CollectiveOp::kReduceScatter},
                                   {"alltoall", CollectiveOp::kAllToAllV},
                                   {"alltoallv", CollectiveOp::kAllToAllV},
                                   {"sendrecv", CollectiveOp::kSendRecv}});
}

Algorithm parse_algorithm(std::string_view name) {
  return parse_name<Algorithm>(name, "collective.algorithm",
                               {{"ring", Algorithm::kRing},
                                {"tree", Algorithm::kTree},
                                {"nvls", Algorithm::kNvls},
                                {"direct", Algorithm::kDirect}});
}

Protocol parse_protocol(std::string_view name) {
  return parse_name<Protocol>(
      name, "collective.protocol",
      {{"ll", Protocol::kLL}, {"ll128", Protocol::kLL128}, {"simple", Protocol::kSimple}});
}

CollectiveResult price_collective(const ClusterSpec& cluster, const NetworkEfficiency& network,
                                  CollectiveOp op, Bytes size, int ranks,
                                  const CollectiveOptions& options) {
  const std::vector<CollectiveResult> r =
      sweep_collective(cluster, network, op, ranks, size, size, options);
  return r.front();
}

std::vector<CollectiveResult> sweep_collective(const ClusterSpec& cluster,
                                               const NetworkEfficiency& network, CollectiveOp op,
                                               int ranks, Bytes min_size, Bytes max_size,
                                               const CollectiveOptions& options) {
  if (ranks < 1 || ranks > cluster.gpu_count()) {
    throw ConfigError(
        {}, "collective.ranks",
        "a rank count in [1, " + std::to_string(cluster.gpu_count()) + "] for " + cluster.name,
        std::to_string(ranks));
  }
  if (min_size < Bytes{0} || max_size < min_size) {
    throw ConfigError({}, "collective.sizes", "0 <= min size <= max size",
                      std::to_string(min_size.base()) + " .. " + std::to_string(max_size.base()));
  }
  const Topology topology = build_topology(cluster, network);
  const std::unique_ptr<NetworkModel> model = make_network_model(network.impl, topology);
  Collectives collectives(cluster, topology, network, *model);
  std::vector<int> group(static_cast<std::size_t>(ranks));
  for (int i = 0; i < ranks; ++i) group[static_cast<std::size_t>(i)] = i;
  std::vector<CollectiveResult> out;
  Bytes s = min_size;
  while (true) {
    out.push_back(collectives.run(op, group, s, options));
    if (s >= max_size || s == Bytes{0}) break;
    s = std::min(max_size, s * 2);
  }
  return out;
}

}  // namespace moesim::hw
