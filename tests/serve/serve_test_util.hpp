#pragma once
/// \file
/// Helpers for the sim/serve tests: deployments with hand-checkable numbers, a recording
/// step-time model, and a driver that submits requests at given times.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/simulation.hpp"
#include "sim/serve/analytic_step_model.hpp"
#include "sim/serve/engine.hpp"
#include "sim/serve/run.hpp"
#include "sim/serve/workload.hpp"

namespace moesim::serve::test {

/// Time since the start of the run in milliseconds.
inline double ms(TimePoint t) { return to_milliseconds(t.time_since_epoch()); }

/// 1 ms + 10 us per new token + `per_kv` per context token.
inline AnalyticStepParams simple_params(Duration per_kv = Duration::zero()) {
  return AnalyticStepParams{milliseconds(1), microseconds(10), per_kv};
}

/// An aggregated pool: one instance, one rank, budgets far from binding, KV 1M tokens.
inline PoolConfig roomy_pool(PoolRole role = PoolRole::kAggregated) {
  PoolConfig p;
  p.role = role;
  p.instances = 1;
  p.gpus_per_instance = 1;
  p.attention_dp = 1;
  p.limits.max_batch_size = 64;
  p.limits.max_num_tokens = 100000;
  p.limits.chunked_prefill_size = 0;
  p.kv_capacity_tokens = 1'000'000;
  p.kv_block_size = 32;
  p.kv_policy = KvPolicy::kGuaranteedNoEvict;
  return p;
}

/// An aggregated deployment of `pool`.
inline EngineConfig aggregated(const PoolConfig& pool) {
  EngineConfig c;
  c.primary = pool;
  return c;
}

/// Two request classes in the ratio 3 : 1 with the same prompt lengths and SLA: `first` with
/// outputs `first_osl`, `second` with the longer `second_osl`.
inline std::vector<RequestClass> two_classes(LengthDist isl, Sla sla, const std::string& first,
                                             LengthDist first_osl, const std::string& second,
                                             LengthDist second_osl) {
  RequestClass a;
  a.name = first;
  a.weight = 3.0;
  a.isl = isl;
  a.osl = first_osl;
  a.sla = sla;
  RequestClass b = a;
  b.name = second;
  b.weight = 1.0;
  b.osl = second_osl;
  return {a, b};
}

/// Analytic model that also keeps a copy of every batch it priced.
class RecordingModel final : public StepTimeModel {
 public:
  explicit RecordingModel(AnalyticStepParams p) : inner_(p) {}
  void price(const StepBatch& batch, const StepContext& ctx, StepTiming& out) override {
    batches.emplace_back(batch.sequences.begin(), batch.sequences.end());
    contexts.push_back(ctx);
    inner_.price(batch, ctx, out);
  }
  std::string describe() const override { return "recording " + inner_.describe(); }

  std::vector<std::vector<SequenceWork>> batches;
  std::vector<StepContext> contexts;

 private:
  AnalyticStepModel inner_;
};

/// A request to submit at `at`.
struct Arrival {
  Duration at;
  std::int32_t isl;
  std::int32_t osl;
};

/// How the engine hands decodes to the model (EngineOptions::group_decodes): tests that read
/// every SequenceWork of a RecordingModel ask for them listed.
enum class Decodes : std::uint8_t { kGrouped, kListed };

/// Runs `arrivals` (ids in order) through an engine and keeps every request's record.
struct Harness final : CompletionListener {
  Simulation sim{7};
  std::optional<Engine> engine;
  std::vector<RequestRecord> completed;  ///< by id; completed == false until it completes

  Harness(const EngineConfig& config, EngineModels models, std::int64_t requests,
          bool record_steps = false, Decodes decodes = Decodes::kGrouped)
      : completed(static_cast<std::size_t>(requests)) {
    EngineOptions o;
    o.total_requests = requests;
    o.record_steps = record_steps;
    o.group_decodes = decodes == Decodes::kGrouped;
    engine.emplace(sim, config, models, o);
    engine->set_listener(this);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  void on_request_complete(Simulation& /*sim*/, const RequestRecord& record) override {
    completed[static_cast<std::size_t>(record.id)] = record;
  }

  void run(const std::vector<Arrival>& arrivals) {
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
      RequestSpec r;
      r.id = static_cast<std::int64_t>(i);
      r.input_tokens = arrivals[i].isl;
      r.output_tokens = arrivals[i].osl;
      sim.schedule_at(TimePoint{} + arrivals[i].at, [this, r](Simulation&) { engine->submit(r); });
    }
    sim.run();
  }

  /// Request i's record: final when it completed, else its progress so far (or empty when it
  /// was never submitted).
  RequestRecord req(std::size_t i) const {
    if (completed[i].completed) return completed[i];
    for (const RequestRecord& r : engine->in_flight()) {
      if (r.id == static_cast<std::int64_t>(i)) return r;
    }
    return RequestRecord{};
  }
};

/// A run and every request's record, by id.
struct RunWithRequests {
  RunResult result;
  std::vector<RequestRecord> requests;
};

/// run_serving, gathering every request's record (RunOptions::on_request) and sorting them by
/// id.
inline RunWithRequests run_with_requests(const EngineConfig& config, const WorkloadSpec& workload,
                                         const EngineModels& models, std::uint64_t seed,
                                         const std::optional<Pricing>& pricing,
                                         RunOptions options = {}) {
  RunWithRequests out;
  options.on_request = [&](const RequestRecord& r) { out.requests.push_back(r); };
  out.result = run_serving(config, workload, models, seed, pricing, options);
  std::sort(out.requests.begin(), out.requests.end(),
            [](const RequestRecord& a, const RequestRecord& b) { return a.id < b.id; });
  return out;
}

}  // namespace moesim::serve::test
