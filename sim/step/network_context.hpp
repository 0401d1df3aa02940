#pragma once
/// \file
/// The network of a deployment, assembled once: network efficiency parameters, the cluster, its
/// sealed topology, the flow model and the collectives on it; plus the StepNetwork adapter that
/// prices a step plan's collectives on it.

#include <memory>

#include "sim/config/catalog.hpp"
#include "sim/hw/cluster.hpp"
#include "sim/hw/collectives.hpp"
#include "sim/hw/network_efficiency.hpp"
#include "sim/hw/network_model.hpp"
#include "sim/hw/topology.hpp"
#include "sim/step/step_timeline.hpp"

namespace moesim::step {

/// Owns everything a collective needs. Not copyable or movable (members refer to each other).
class NetworkContext final : public StepNetwork {
 public:
  /// `domains` NVLink domains of `system` with the catalog's network parameters ("network").
  NetworkContext(const config::Catalog& catalog, const hw::SystemSpec& system, int domains);
  NetworkContext(const NetworkContext&) = delete;
  NetworkContext& operator=(const NetworkContext&) = delete;

  const hw::ClusterSpec& cluster() const { return cluster_; }
  const hw::Topology& topology() const { return topology_; }
  hw::Collectives& collectives() { return *collectives_; }

  Duration collective(llm::CollectiveKind kind, std::span<const int> group, Bytes size,
                      std::span<const Bytes> matrix) override;
  Duration all_to_all_v_counts(std::span<const int> group, std::span<const std::int64_t> counts,
                               Bytes per_count, bool transposed) override;

 private:
  hw::NetworkEfficiency efficiency_;
  hw::ClusterSpec cluster_;
  hw::Topology topology_;
  std::unique_ptr<hw::NetworkModel> model_;
  std::unique_ptr<hw::Collectives> collectives_;
};

}  // namespace moesim::step
