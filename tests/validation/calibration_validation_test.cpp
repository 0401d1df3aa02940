// Per-op validation of the calibrated stacks against NVIDIA's per-op measurements
// (topologies/measured/aiconfigurator/, AIConfigurator performance database, Apache-2.0). The
// stacks' calibrations (topologies/stacks/calibrated/) were fitted by `moesim calibrate` on the
// rows whose line number is not a multiple of 5; this test prices the held-back rows (every
// fifth line, which no fit saw) with each stack and asserts, per GPU and kernel family, the
// bounds of issue 12: median |predicted / measured - 1| <= 15 % and 90th percentile <= 35 %.
// Cells that miss them are listed in kKnownMisses with the bound they do meet and why; each of
// those is a miss of the target, not a pass. Run with -s for the whole table.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/cost/calibration.hpp"
#include "sim/cost/measurement.hpp"
#include "sim/cost/stack.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

constexpr double kMedianBound = 0.15;  // issue 12, "Tests"
constexpr double kP90Bound = 0.35;     // issue 12, "Tests"

/// A (stack, GPU, family) cell that misses the bounds, with what it meets instead.
struct KnownMiss {
  const char* stack;
  const char* gpu;
  const char* family;
  double median;  ///< asserted bound on the held-back median
  double p90;     ///< asserted bound on the held-back p90
};

// Measured on 2026-12-07 with the committed calibrations; the asserted bounds are the values
// then, rounded up by about 3 points, so that a regression still fails.
//  - SGLang MoE on Hopper (sglang, Triton fused MoE), the Qwen3-235B BF16 and gpt-oss W4A16
//    MXFP4 rows: these route with a plain top-k, which the probe follows, and the misses run
//    both ways: the fit is 1.7-2.3x fast on rows of 4,096 tokens and more (H200 w4a16_mxfp4,
//    16 of 36 held-back rows more than 25 % fast; H200 bf16, 12,288 tokens at EP 1: 13.9 ms
//    measured, 8.1 ms priced) and up to 40 % slow on rows of a few tokens. (The DeepSeek-V3
//    rows of these tables, once 20 % / 50-57 % off, meet the bounds since the probe follows
//    the group-limited router SGLang's collector runs them through; kernel_probe.hpp.)
//  - SGLang DeepEP MoE (sglang-wideep): the probe follows the collector's loads, DeepGEMM's
//    contiguous and masked layouts and the scatter/gather over every dispatched row
//    (sim/cost/kernel_probe.hpp); the decode (masked, CUDA-graph) rows now fit within a few
//    percent, but the prefill table is timed eagerly (CUDA events around run_moe_core, no
//    graph) and its small rows sit on a floor of 0.3-0.4 ms whatever the work (H100 EP256,
//    4096 tokens: 0.40 ms for one expert's 128 rows), as a host issuing run_moe_core's kernels
//    would; one family's fixed term cannot share it with the 30-50 us decode rows, and the
//    p90 is those rows.
//  - W4A8 MXFP4 MoE (gpt-oss shapes) on TensorRT-LLM, B200 (TRT-LLM-Gen kernels): the times
//    are not monotone in the work (1024 tokens: EP 64 39 us, EP 128 63 us; EP 8 232 us, more
//    than 3072 tokens at EP 8, 203 us), as a tactic chosen per shape would be; 44 held-back
//    rows.
constexpr KnownMiss kKnownMisses[] = {
    {"trtllm", "b200", "moe.w4a8_mxfp4", 0.23, 0.65},
    {"sglang", "h100", "moe.w4a16_mxfp4", 0.21, 0.40},
    {"sglang", "h200", "moe.bf16", 0.23, 0.39},
    {"sglang", "h200", "moe.w4a16_mxfp4", 0.25, 0.43},
    {"sglang-wideep", "b200", "moe.fp8_block", 0.30, 0.87},
    {"sglang-wideep", "gb200", "moe.fp8_block", 0.22, 0.87},
    {"sglang-wideep", "h100", "moe.fp8_block", 0.20, 0.81},
    {"sglang-wideep", "h200", "moe.fp8_block", 0.20, 0.76},
};

struct StackSet {
  const char* stack;
  std::vector<std::string> patterns;  ///< <system>/<folder>/<table> under the measured root
};

/// The measurement files of `pattern` ("*" matches any system folder or any table).
std::vector<fs::path> files_of(const fs::path& root, const std::string& pattern) {
  const auto parts = [&] {
    std::vector<std::string> v;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= pattern.size(); ++i) {
      if (i == pattern.size() || pattern[i] == '/') {
        v.push_back(pattern.substr(start, i - start));
        start = i + 1;
      }
    }
    return v;
  }();
  REQUIRE(parts.size() == 3);
  std::vector<fs::path> out;
  for (const auto& system : fs::directory_iterator(root)) {
    if (!system.is_directory()) continue;
    if (parts[0] != "*" && system.path().filename() != parts[0]) continue;
    const fs::path folder = system.path() / parts[1];
    if (!fs::exists(folder)) continue;
    for (const auto& f : fs::directory_iterator(folder)) {
      const std::string table = f.path().stem().string();
      if (parts[2] == "*" || table == parts[2]) out.push_back(f.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

const KnownMiss* known_miss(const std::string& stack, const std::string& gpu,
                            const std::string& family) {
  for (const KnownMiss& k : kKnownMisses) {
    if (stack == k.stack && gpu == k.gpu && family == k.family) return &k;
  }
  return nullptr;
}

TEST_CASE("calibrated stacks meet the per-op bounds on held-back measurements") {
  const config::Catalog catalog(fs::path{MOESIM_SOURCE_DIR});
  const fs::path root = fs::path{MOESIM_SOURCE_DIR} / "topologies" / "measured" / "aiconfigurator";
  const std::vector<StackSet> sets = {
      {"trtllm", {"*/trtllm-1.3.0rc20/*"}},
      {"trtllm-1.2", {"b200_sxm/trtllm-1.2.0rc5/*"}},
      {"sglang", {"*/sglang-0.5.14/*"}},
      {"sglang-wideep",
       {"*/sglang-0.5.14/gemm_perf", "*/sglang-0.5.14/mla_bmm_perf",
        "*/sglang-0.5.14/generation_mla_perf", "*/sglang-0.5.14/context_mla_perf",
        "*/sglang-0.5.14/generation_attention_perf", "*/sglang-0.5.14/context_attention_perf",
        "*/sglang-0.5.10/wideep_context_moe_perf", "*/sglang-0.5.10/wideep_generation_moe_perf"}},
  };
  std::printf("Per-op validation, held-back rows (every fifth line): |predicted/measured - 1|\n");
  std::printf("%-14s %-6s %-18s %6s %8s %8s  %s\n", "stack", "gpu", "family", "points", "median",
              "p90", "bound");
  int known = 0;
  for (const StackSet& set : sets) {
    std::vector<Measurement> rows;
    for (const std::string& pattern : set.patterns) {
      for (const fs::path& f : files_of(root, pattern)) {
        MeasurementFile m = read_measurements(f);
        for (Measurement& r : m.rows) {
          if (held_back(r)) rows.push_back(std::move(r));
        }
      }
    }
    REQUIRE_FALSE(rows.empty());
    StackModels models(catalog, load_stack(catalog, set.stack));
    const std::vector<Prediction> predictions = predict(rows, models.lookup());
    std::map<std::pair<std::string, std::string>, std::vector<double>> errors;
    std::size_t extrapolated = 0;  // held-back rows at a shape beyond every fitted row
    for (const Prediction& p : predictions) {
      if (p.extrapolated) ++extrapolated;
      errors[{p.measurement->gpu, p.family.name()}].push_back(std::abs(p.error()));
    }
    std::printf("%-14s %zu held-back rows, %zu of them outside the fitted shapes\n", set.stack,
                rows.size(), extrapolated);
    for (const auto& [key, e] : errors) {
      const ErrorStats s = error_stats(e);
      const KnownMiss* miss = known_miss(set.stack, key.first, key.second);
      const double median_bound = miss ? miss->median : kMedianBound;
      const double p90_bound = miss ? miss->p90 : kP90Bound;
      std::printf("%-14s %-6s %-18s %6zu %7.1f%% %7.1f%%  %s\n", set.stack, key.first.c_str(),
                  key.second.c_str(), s.points, 100.0 * s.median, 100.0 * s.p90,
                  miss ? "known miss" : "issue bound");
      CAPTURE(set.stack);
      CAPTURE(key.first);
      CAPTURE(key.second);
      CHECK(s.median <= median_bound);
      CHECK(s.p90 <= p90_bound);
      if (miss) ++known;
    }
  }
  std::printf("%d cells miss the issue's bounds (kKnownMisses)\n", known);
}

}  // namespace
}  // namespace moesim::cost
