#include "sim/serve/step_time_model.hpp"

#include <string>

namespace moesim::serve {

std::string_view to_string(Phase phase) { return phase == Phase::kPrefill ? "prefill" : "decode"; }

std::string_view to_string(PoolRole role) {
  switch (role) {
    case PoolRole::kAggregated: return "aggregated";
    case PoolRole::kPrefill: return "prefill";
    case PoolRole::kDecode: return "decode";
  }
  return "unknown";
}

StepBreakdown& StepBreakdown::operator+=(const StepBreakdown& o) {
  compute += o.compute;
  memory += o.memory;
  communication += o.communication;
  host_overhead += o.host_overhead;
  idle += o.idle;
  return *this;
}

StepBreakdown StepBreakdown::operator-(const StepBreakdown& o) const {
  return {compute - o.compute, memory - o.memory, communication - o.communication,
          host_overhead - o.host_overhead, idle - o.idle};
}

FixedRateKvTransferModel::FixedRateKvTransferModel(Duration latency, Bandwidth bandwidth)
    : latency_(latency), bandwidth_(bandwidth) {
  MOESIM_ASSERT(bandwidth.base() > 0.0, "KV transfer bandwidth must be positive");
  MOESIM_ASSERT(latency >= Duration::zero(), "KV transfer latency must be >= 0");
}

Duration FixedRateKvTransferModel::transfer_time(Bytes bytes) const {
  return latency_ + bytes / bandwidth_;
}

void FixedRateKvTransferModel::start(Simulation& sim, const KvTransfer& transfer,
                                     KvTransferDone done) {
  sim.schedule_after(transfer_time(transfer.bytes), std::move(done));
}

std::string FixedRateKvTransferModel::describe() const {
  return "fixed-rate KV transfer: " + std::to_string(to_microseconds(latency_)) + " us + bytes / " +
         std::to_string(in_gigabytes_per_second(bandwidth_)) + " GB/s";
}

}  // namespace moesim::serve
