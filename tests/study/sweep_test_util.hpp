#pragma once
/// \file
/// The small analytic sweep shared by the sweep and sizing tests.

#include <cstdint>

#include "sim/study/sweep.hpp"

namespace moesim::study::test {

/// A small sweep priced by the analytic step model (no plan validation, no memory model), so
/// that many points run in milliseconds. Step = 2 ms + 20 us x new tokens + 10 ns x context
/// tokens of the busiest rank. KV: 4096 tokens per instance in 32-token blocks = 128 blocks; a
/// request of 128 in / 32 out reserves 160 tokens = 5 blocks. HGX H200, seed 7.
inline SweepBase analytic_base() {
  SweepBase b;
  b.system = "hgx-h200";
  b.isl = 128;
  b.osl = 32;
  b.seed = 7;
  b.extra_yaml =
      "step_model: {impl: analytic, fixed: \"2 ms\", per_token: \"20 us\", per_kv_token: "
      "\"10 ns\"}";
  b.extra_pool_yaml = "kv_capacity_tokens: 4096";
  return b;
}

/// TP8 (EP 1 and EP 8) and ADP8 EP8, max batch 16 per rank, no MTP, no disaggregation, the
/// concurrency ladder up to `max_concurrency`.
inline SweepSpace analytic_space(std::int32_t max_concurrency) {
  SweepSpace s;
  s.tp_sizes = {8};
  s.ep_widths = {8};
  s.max_batch_sizes = {16};
  s.mtp_draft_tokens = {0};
  s.disagg_ratios = {};
  s.max_concurrency = max_concurrency;
  return s;
}

}  // namespace moesim::study::test
