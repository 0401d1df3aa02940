#include "sim/step/plan_step_model.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/rng.hpp"
#include "sim/llm/parallel_plan.hpp"
#include "sim/llm/precision.hpp"

namespace moesim::step {
namespace {

/// DeepSeek-R1, FP8, on one HGX H200 under attention-DP 8 + EP 8 (the scenario of
/// tests/data/serve/dsr1_h200_plan.yaml).
std::shared_ptr<const Deployment> dsr1_h200(const char* plan_text = "{attention_dp: 8, ep: 8}",
                                            cost::ComputeOptions options = {}) {
  const config::Catalog catalog(std::filesystem::path{MOESIM_SOURCE_DIR});
  llm::ModelSpec model = llm::load_model(catalog, "deepseek-r1");
  llm::Precision precision = llm::parse_precision(
      config::ConfigNode::parse("{weights: checkpoint, activations: fp8, kv_cache: fp8}", "test"),
      model);
  const llm::ParallelPlan plan =
      llm::parse_parallel_plan(config::ConfigNode::parse(plan_text, "test"));
  return make_deployment(catalog, std::move(model), hw::load_system(catalog, "hgx-h200"),
                         std::move(precision), plan, cost::load_stack(catalog, "roofline"),
                         options);
}

/// A batch of `per_rank` decode sequences of context `context` on each of 8 ranks, plus one
/// prefill chunk of `prefill` tokens on ranks 0 .. prefill_ranks - 1 when prefill > 0.
struct Batch {
  std::vector<serve::SequenceWork> seqs;
  std::vector<std::int32_t> begin;
  serve::StepBatch view() const {
    serve::StepBatch b;
    b.sequences = seqs;
    b.rank_begin = begin;
    b.attention_dp = 8;
    for (const auto& s : seqs) {
      if (s.phase == serve::Phase::kDecode) {
        b.decode_tokens += s.new_tokens;
        ++b.decode_sequences;
      } else {
        b.prefill_tokens += s.new_tokens;
        ++b.prefill_sequences;
      }
    }
    return b;
  }
};

Batch make_batch(std::int32_t per_rank, std::int64_t context, std::int32_t prefill = 0,
                 std::int32_t prefill_ranks = 1) {
  Batch b;
  std::int64_t id = 0;
  for (std::int32_t r = 0; r < 8; ++r) {
    b.begin.push_back(static_cast<std::int32_t>(b.seqs.size()));
    if (r < prefill_ranks && prefill > 0) {
      b.seqs.push_back({id++, prefill, r, prefill, serve::Phase::kPrefill});
    }
    for (std::int32_t i = 0; i < per_rank; ++i) {
      b.seqs.push_back({id++, 1, r, context, serve::Phase::kDecode});
    }
  }
  b.begin.push_back(static_cast<std::int32_t>(b.seqs.size()));
  return b;
}

serve::StepTiming price(PlanStepModel& m, const Batch& b, Rng& rng, bool detail = false) {
  serve::StepContext ctx;
  ctx.gpus = 8;
  ctx.rng = &rng;
  ctx.want_detail = detail;
  serve::StepTiming t;
  m.price(b.view(), ctx, t);
  return t;
}

}  // namespace

TEST_CASE("geometric buckets round up to the next power of 2^(1/4), whole") {
  // ceil(2^(k/4)) for k = 0..: 1, 2 (1.19), 2 (1.41), 2 (1.68), 2, 3 (2.38), 3 (2.83), 4 (3.36),
  // 4, 5 (4.76), 6 (5.66), 7 (6.73), 8, ... so 5 -> 5, 9 -> 10 (9.51), 64 -> 64 (2^6).
  CHECK(geometric_bucket(0) == 0);
  CHECK(geometric_bucket(1) == 1);
  CHECK(geometric_bucket(3) == 3);
  CHECK(geometric_bucket(5) == 5);
  CHECK(geometric_bucket(9) == 10);
  CHECK(geometric_bucket(64) == 64);
  CHECK(geometric_bucket(65) >= 65);
}

TEST_CASE("the plan-based model prices steps deterministically, monotonically and from cache") {
  const auto d = dsr1_h200();
  PlanStepModel a(d, "test");
  PlanStepModel b(d, "test");
  Rng rng_a(7, stream_id("test.steps"));
  Rng rng_b(7, stream_id("test.steps"));
  const Batch small = make_batch(8, 2048);
  const Batch large = make_batch(32, 2048);

  const serve::StepTiming t_small = price(a, small, rng_a);
  const serve::StepTiming t_small_b = price(b, small, rng_b);
  // Same seed, same batch: the same sampled routing, so the same timing.
  CHECK(t_small.duration == t_small_b.duration);
  CHECK(t_small.imbalance == t_small_b.imbalance);

  // A repeat is answered from the cache with the same timing.
  const serve::StepTiming again = price(a, small, rng_a);
  CHECK(again.duration == t_small.duration);
  CHECK(a.cache_hits() == 1);
  CHECK(a.lowered_steps() == 1);

  // Four times the decode sequences (same context) can only take longer.
  const serve::StepTiming t_large = price(a, large, rng_a);
  CHECK(t_large.duration >= t_small.duration);

  // The five parts of the breakdown sum to the step exactly; ComputeOptions{} overlaps the
  // scheduler, so no host time is added.
  for (const serve::StepTiming* t : {&t_small, &t_large}) {
    CHECK(t->duration > Duration{0});
    CHECK(t->breakdown.total() == t->duration);
    CHECK(t->breakdown.host_overhead == Duration{0});
    CHECK(t->imbalance >= 1.0);
  }

  // A mixed step (a 2048-token prefill chunk on rank 0) prices and sums too.
  const serve::StepTiming mixed = price(a, make_batch(8, 2048, 2048), rng_a);
  CHECK(mixed.breakdown.total() == mixed.duration);
  CHECK(mixed.duration >= t_small.duration);
}

TEST_CASE("a new run forgets the draws of the last one: its steps depend on its own seed") {
  const auto d = dsr1_h200();
  PlanStepModel reused(d, "test");
  PlanStepModel fresh(d, "test");
  const Batch batch = make_batch(8, 2048);
  Rng first(7, stream_id("test.steps"));
  const serve::StepTiming t_first = price(reused, batch, first);
  reused.begin_run();
  CHECK(reused.lowered_steps() == 0);
  CHECK(reused.routing_draws() == 0);
  CHECK(reused.cache_hits() == 0);
  Rng second(8, stream_id("test.steps"));
  Rng second_fresh(8, stream_id("test.steps"));
  const serve::StepTiming t_second = price(reused, batch, second);
  const serve::StepTiming t_alone = price(fresh, batch, second_fresh);
  CHECK(t_second.duration == t_alone.duration);
  CHECK(t_second.imbalance == t_alone.imbalance);
  // The two seeds draw different routings (so a cache kept across runs would have answered the
  // second run with the first run's step).
  CHECK(t_second.imbalance != t_first.imbalance);
}

TEST_CASE("factored pricing matches lowering every rank with the same routing draws") {
  // One micro-batch: the lockstep timeline of the full plan is the symmetric base plus, per MoE
  // layer, the slowest rank's expert excess and the real all-to-alls' excess (factored_step.hpp).
  // Token counts that are bucket values already (8 and 32 decode sequences per rank: X = 8 and
  // 32 tokens per EP rank; bucket(8) = 8, bucket(32) = 32) make both models draw the same
  // routing from the same seed, so only rounding separates them: the SwiGLU is re-priced from
  // scaled bytes (rounded to whole bytes) and time sums round per op. Allowed: 0.5 %.
  const auto d = dsr1_h200();
  for (const std::int32_t per_rank : {8, 32}) {
    CAPTURE(per_rank);
    PlanStepModel factored(d, "test");
    PlanStepModel exact(d, "test", PlanStepModel::Pricing::kExact);
    REQUIRE(factored.factored());
    REQUIRE_FALSE(exact.factored());
    Rng rng_f(11, stream_id("test.steps"));
    Rng rng_e(11, stream_id("test.steps"));
    const Batch b = make_batch(per_rank, 1500);
    const serve::StepTiming tf = price(factored, b, rng_f);
    const serve::StepTiming te = price(exact, b, rng_e);
    const double rel = std::abs(to_seconds(tf.duration) / to_seconds(te.duration) - 1.0);
    CHECK(rel < 0.005);
    CHECK(tf.imbalance == doctest::Approx(te.imbalance).epsilon(0.01));
    CHECK(tf.breakdown.total() == tf.duration);
    CHECK(factored.routing_draws() == 1);
  }
}

TEST_CASE("an engine without an overlap scheduler pays the sourced host fraction per step") {
  // topologies/efficiency.yaml: overheads.step_host_fraction 0.10 (SGLang v0.4 blog: 1.1x from
  // hiding the scheduler). The same step with and without overlap: the GPU part is equal and
  // the host part is 10 % of it (rounded to whole picoseconds).
  cost::ComputeOptions no_overlap;
  no_overlap.overlap_scheduler = false;
  PlanStepModel hidden(dsr1_h200(), "test");
  PlanStepModel exposed(dsr1_h200("{attention_dp: 8, ep: 8}", no_overlap), "test");
  Rng rng_a(3, stream_id("test.steps"));
  Rng rng_b(3, stream_id("test.steps"));
  const Batch b = make_batch(16, 2048);
  const serve::StepTiming th = price(hidden, b, rng_a);
  const serve::StepTiming te = price(exposed, b, rng_b);
  CHECK(th.breakdown.host_overhead == Duration{0});
  CHECK(te.duration - te.breakdown.host_overhead == th.duration);
  CHECK(to_seconds(te.breakdown.host_overhead) ==
        doctest::Approx(0.10 * to_seconds(th.duration)).epsilon(1e-6));
  CHECK(te.breakdown.total() == te.duration);
}

TEST_CASE("skewed expert popularity slows expert-parallel steps") {
  // Zipf popularity (exponent 1.2) concentrates tokens on a few experts: with contiguous
  // placement (no redundant slots) the rank holding the hottest ones is the slowest at every
  // MoE layer, so the step cannot be faster than under uniform routing, and its imbalance is
  // higher. 64 decode sequences per rank (512 tokens routed per layer).
  const config::Catalog catalog(std::filesystem::path{MOESIM_SOURCE_DIR});
  auto deployment = [&](const char* popularity) {
    llm::ModelSpec model = llm::load_model(catalog, "deepseek-r1");
    llm::Precision precision = llm::checkpoint_precision(model);
    const llm::ParallelPlan plan =
        llm::parse_parallel_plan(config::ConfigNode::parse("{attention_dp: 8, ep: 8}", "test"));
    return std::shared_ptr<const Deployment>(
        make_deployment(catalog, std::move(model), hw::load_system(catalog, "hgx-h200"),
                        std::move(precision), plan, cost::load_stack(catalog, "roofline"),
                        cost::ComputeOptions{}, 0, config::ConfigNode::parse(popularity, "test")));
  };
  PlanStepModel uniform(deployment("uniform"), "test");
  PlanStepModel skewed(deployment("{kind: zipf, exponent: 1.2, order: shuffled, seed: 3}"), "test");
  Rng rng_u(4, stream_id("test.steps"));
  Rng rng_s(4, stream_id("test.steps"));
  const Batch b = make_batch(64, 2048);
  const serve::StepTiming tu = price(uniform, b, rng_u);
  const serve::StepTiming ts = price(skewed, b, rng_s);
  CHECK(ts.duration > tu.duration);
  CHECK(ts.imbalance > tu.imbalance);
}

TEST_CASE("with two micro-batches factored pricing is an upper bound of the exact timeline") {
  // Two micro-batches overlap one half's all-to-alls with the other's compute; the factored
  // model adds every excess in series, so it can only be slower (0.5 % rounding allowed).
  const auto d = dsr1_h200("{attention_dp: 8, ep: 8, micro_batches: 2}");
  PlanStepModel factored(d, "test");
  PlanStepModel exact(d, "test", PlanStepModel::Pricing::kExact);
  Rng rng_f(11, stream_id("test.steps"));
  Rng rng_e(11, stream_id("test.steps"));
  const Batch b = make_batch(32, 1500);
  const serve::StepTiming tf = price(factored, b, rng_f);
  const serve::StepTiming te = price(exact, b, rng_e);
  CHECK(to_seconds(tf.duration) >= 0.995 * to_seconds(te.duration));
  CHECK(tf.breakdown.total() == tf.duration);
}

TEST_CASE("a plan re-timed for another decode context equals one lowered for it") {
  // Model a prices context 1000 then 4000 (one lowering, patched for 4000); model b prices 4000
  // alone. Both take their single routing draw from the same seed with the same tokens, so the
  // two timings of context 4000 must be identical.
  const auto d = dsr1_h200();
  PlanStepModel a(d, "test");
  PlanStepModel b(d, "test");
  Rng rng_a(9, stream_id("test.steps"));
  Rng rng_b(9, stream_id("test.steps"));
  const serve::StepTiming a1 = price(a, make_batch(16, 1000), rng_a);
  const serve::StepTiming a2 = price(a, make_batch(16, 4000), rng_a);
  const serve::StepTiming b2 = price(b, make_batch(16, 4000), rng_b);
  CHECK(a.lowerings() == 1);
  CHECK(a.lowered_steps() == 2);
  CHECK(a2.duration == b2.duration);
  CHECK(a2.imbalance == b2.imbalance);
  CHECK(a2.duration > a1.duration);  // 4x the context: more KV read per decode
}

TEST_CASE("steps with the same routed tokens share one routing draw; detail spans cover layers") {
  const auto d = dsr1_h200();
  PlanStepModel m(d, "test");
  Rng rng(5, stream_id("test.steps"));
  // Two contexts in different buckets: two keys, but the same 16 tokens per EP rank.
  const serve::StepTiming a = price(m, make_batch(16, 1000), rng, true);
  const serve::StepTiming b = price(m, make_batch(16, 4000), rng, true);
  CHECK(m.lowered_steps() == 2);
  CHECK(m.routing_draws() == 1);
  // Longer contexts read more KV: the second step cannot be shorter.
  CHECK(b.duration >= a.duration);
  // Detail: one "layer N" span per decoder layer (61 for DeepSeek-R1), each inside the step,
  // and per MoE layer (58) a dispatch, a straggler and a combine span.
  std::int64_t layers = 0;
  std::int64_t stragglers = 0;
  for (const serve::StepSpan& s : a.detail) {
    CHECK(s.start >= Duration{0});
    CHECK(s.start + s.duration <= a.duration);
    if (s.category == "layer") ++layers;
    if (s.category == "straggler") {
      ++stragglers;
      CHECK(s.rank >= 0);
      CHECK(s.rank < 8);
    }
  }
  CHECK(layers == 61);
  CHECK(stragglers == 58);
  // Without want_detail the spans are cleared.
  CHECK(price(m, make_batch(16, 1000), rng).detail.empty());
}

TEST_CASE("attention-DP ranks with different batches wait for the busiest at the MoE exchange") {
  PlanStepModel m(dsr1_h200(), "test");
  Rng rng(3, stream_id("test.steps"));
  // Rank 0 prefills 1,024 tokens beside its 64 decodes; the other ranks only decode.
  const serve::StepTiming mixed = price(m, make_batch(64, 2048, 1024), rng, true);
  // Bounds: every rank prefilling (the exchange then carries 8 x 1,024 more tokens) and none.
  const serve::StepTiming every = price(m, make_batch(64, 2048, 1024, 8), rng);
  const serve::StepTiming none = price(m, make_batch(64, 2048), rng);
  CHECK(mixed.duration > none.duration);
  CHECK(mixed.duration < every.duration);
  // The others wait for rank 0: idle time and an imbalance above the decode step's.
  CHECK(mixed.breakdown.idle > none.breakdown.idle);
  CHECK(mixed.imbalance > none.imbalance);
  CHECK(mixed.breakdown.total() == mixed.duration);
  bool pace = false;
  for (const serve::StepSpan& s : mixed.detail) {
    pace = pace || (s.category == "straggler" && s.rank == 0 &&
                    s.name.find("attention-DP rank 0 sets the pace") != std::string::npos);
  }
  CHECK(pace);
  // Asking for the trace draws nothing: a model that priced the mixed step with detail and one
  // that did not give the same timings from then on.
  PlanStepModel quiet(dsr1_h200(), "test");
  Rng rng_q(3, stream_id("test.steps"));
  const serve::StepTiming mixed_quiet = price(quiet, make_batch(64, 2048, 1024), rng_q);
  CHECK(mixed_quiet.duration == mixed.duration);
  CHECK(price(quiet, make_batch(64, 2048, 1024, 8), rng_q).duration == every.duration);
  CHECK(price(quiet, make_batch(64, 2048), rng_q).duration == none.duration);
  // The same batch on every rank is priced as before, by its symmetric step: a repeat is a
  // cache hit and gives the same timing.
  const std::int64_t hits = m.cache_hits();
  const serve::StepTiming again = price(m, make_batch(64, 2048, 1024, 8), rng);
  CHECK(again.duration == every.duration);
  CHECK(m.cache_hits() == hits + 1);
}

}  // namespace moesim::step
