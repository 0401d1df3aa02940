// KV hand-offs as flows on the topology (placement, flows and timing in
// sim/step/kv_transfer_network.hpp).

#include "sim/step/kv_transfer_network.hpp"

#include <cstdio>
#include <utility>

#include "sim/core/assert.hpp"

namespace moesim::step {
namespace {

void check_shape(const KvPoolShape& s) {
  MOESIM_ASSERT(s.instances >= 1 && s.tp >= 1 && s.pp >= 1 && s.attention_dp >= 1,
                "pool sizes must be >= 1");
  MOESIM_ASSERT(s.tp % s.attention_dp == 0, "attention_dp must divide tp");
}

std::string gpu_range(int first, int count) {
  return std::to_string(first) + "-" + std::to_string(first + count - 1);
}

}  // namespace

NetworkKvTransferModel::NetworkKvTransferModel(hw::NetworkEfficiency network,
                                               const hw::SystemSpec& system, KvPoolShape prefill,
                                               KvPoolShape decode)
    : network_(std::move(network)), prefill_(prefill), decode_(decode) {
  check_shape(prefill_);
  check_shape(decode_);
  decode_first_ = prefill_.gpus();
  const int gpus = prefill_.gpus() + decode_.gpus();
  const int domain = system.domain_size;
  MOESIM_ASSERT(domain >= 1, "a system has at least one GPU per NVLink domain");
  cluster_ = hw::make_cluster(system, (gpus + domain - 1) / domain, network_);
  topology_ = hw::build_topology(cluster_, network_);
}

NetworkKvTransferModel::NetworkKvTransferModel(hw::NetworkEfficiency network,
                                               const hw::SystemSpec& prefill_system,
                                               const hw::SystemSpec& decode_system,
                                               KvPoolShape prefill, KvPoolShape decode)
    : network_(std::move(network)), prefill_(prefill), decode_(decode) {
  check_shape(prefill_);
  check_shape(decode_);
  // The slower side's domains and NICs (file comment); the decode system on a tie.
  const bool prefill_slower =
      prefill_system.scale_out_bandwidth_per_gpu() < decode_system.scale_out_bandwidth_per_gpu();
  const hw::SystemSpec& bridge = prefill_slower ? prefill_system : decode_system;
  const int domain = bridge.domain_size;
  MOESIM_ASSERT(domain >= 1, "a system has at least one GPU per NVLink domain");
  const int prefill_domains = (prefill_.gpus() + domain - 1) / domain;
  decode_first_ = prefill_domains * domain;
  const int decode_domains = (decode_.gpus() + domain - 1) / domain;
  cluster_ = hw::make_cluster(bridge, prefill_domains + decode_domains, network_);
  topology_ = hw::build_topology(cluster_, network_);
  mixed_ = prefill_system.name + " -> " + decode_system.name;
}

int NetworkKvTransferModel::gpu(serve::PoolRole pool, int instance, int rank, int k) const {
  MOESIM_ASSERT(pool != serve::PoolRole::kAggregated,
                "KV transfers run between prefill and decode");
  const bool is_prefill = pool == serve::PoolRole::kPrefill;
  const KvPoolShape& s = is_prefill ? prefill_ : decode_;
  MOESIM_ASSERT(instance >= 0 && instance < s.instances, "no such instance in the pool");
  MOESIM_ASSERT(rank >= 0 && rank < s.attention_dp, "no such attention-DP rank");
  MOESIM_ASSERT(k >= 0 && k < s.gpus_per_rank(), "no such GPU in the rank");
  const int first = is_prefill ? 0 : decode_first_;
  const int attention_tp = s.tp / s.attention_dp;
  const int stage = k / attention_tp;
  const int t = k % attention_tp;
  return first + instance * s.gpus_per_instance() + stage * s.tp + rank * attention_tp + t;
}

void NetworkKvTransferModel::start(Simulation& sim, const serve::KvTransfer& transfer,
                                   serve::KvTransferDone done) {
  MOESIM_ASSERT(transfer.bytes >= Bytes{0}, "KV transfer bytes must be >= 0");
  Counter& stat = sim.stats().counter(kTransfersStat);
  if (&stat != started_stat_ || stat.value() != started_) restart();
  started_stat_ = &stat;
  stat.add();
  ++started_;

  const int flows = prefill_.gpus_per_rank();
  const int targets = decode_.gpus_per_rank();
  std::uint32_t slot = 0;
  if (free_.empty()) {
    slot = static_cast<std::uint32_t>(pending_.size());
    pending_.emplace_back();
  } else {
    slot = free_.back();
    free_.pop_back();
  }
  pending_[slot].done = std::move(done);
  pending_[slot].flows_left = flows;
  ++in_flight_;
  for (int k = 0; k < flows; ++k) {
    const int src =
        gpu(serve::PoolRole::kPrefill, transfer.source_instance, transfer.source_rank, k);
    const int dst =
        gpu(serve::PoolRole::kDecode, transfer.dest_instance, transfer.dest_rank, k % targets);
    flows_->transfer(sim, src, dst, transfer.bytes,
                     [this, slot](Simulation& s) { flow_done(s, slot); });
  }
}

void NetworkKvTransferModel::flow_done(Simulation& sim, std::uint32_t slot) {
  Pending& p = pending_[slot];
  MOESIM_ASSERT(p.flows_left > 0, "a KV transfer flow arrived twice");
  if (--p.flows_left > 0) return;
  serve::KvTransferDone done = std::move(p.done);
  free_.push_back(slot);
  --in_flight_;
  done(sim);
}

void NetworkKvTransferModel::restart() {
  flows_ = hw::make_network_model(network_.impl, topology_);
  pending_.clear();
  free_.clear();
  in_flight_ = 0;
  started_ = 0;
}

std::string NetworkKvTransferModel::describe() const {
  std::string out = "network flows (" + std::string(hw::to_string(network_.impl)) + ") on " +
                    cluster_.name + ": prefill GPUs " + gpu_range(0, prefill_.gpus()) +
                    ", decode GPUs " + gpu_range(decode_first_, decode_.gpus()) +
                    "; one flow per GPU of the source rank (" +
                    std::to_string(prefill_.gpus_per_rank()) + "), route latency + shared links";
  if (!mixed_.empty()) {
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.4g GB/s",
                  in_gigabytes_per_second(cluster_.system.scale_out_bandwidth_per_gpu()));
    out += "; mixed hardware " + mixed_ + ": scale-out only, at the slower side's " + rate +
           " per GPU (" + cluster_.system.name + " NICs)";
  }
  return out;
}

}  // namespace moesim::step
