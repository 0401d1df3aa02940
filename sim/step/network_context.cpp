#include "sim/step/network_context.hpp"

namespace moesim::step {

NetworkContext::NetworkContext(const config::Catalog& catalog, const hw::SystemSpec& system,
                               int domains)
    : efficiency_(hw::load_network_efficiency(catalog)),
      cluster_(hw::make_cluster(system, domains, efficiency_)),
      topology_(hw::build_topology(cluster_, efficiency_)),
      model_(hw::make_network_model(efficiency_.impl, topology_)),
      collectives_(std::make_unique<hw::Collectives>(cluster_, topology_, efficiency_, *model_)) {}

Duration NetworkContext::collective(llm::CollectiveKind kind, std::span<const int> group,
                                    Bytes size, std::span<const Bytes> matrix) {
  switch (kind) {
    case llm::CollectiveKind::kAllReduce:
      return collectives_->run(hw::CollectiveOp::kAllReduce, group, size).time;
    case llm::CollectiveKind::kAllGather:
      return collectives_->run(hw::CollectiveOp::kAllGather, group, size).time;
    case llm::CollectiveKind::kReduceScatter:
      return collectives_->run(hw::CollectiveOp::kReduceScatter, group, size).time;
    case llm::CollectiveKind::kAllToAllV: return collectives_->all_to_all_v(group, matrix).time;
    case llm::CollectiveKind::kSendRecv:
      return collectives_->send_recv(group[0], group[1], size).time;
  }
  return Duration::zero();
}

Duration NetworkContext::all_to_all_v_counts(std::span<const int> group,
                                             std::span<const std::int64_t> counts, Bytes per_count,
                                             bool transposed) {
  return collectives_->all_to_all_v_counts(group, counts, per_count, transposed).time;
}

}  // namespace moesim::step
