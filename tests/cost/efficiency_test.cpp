// Tests of the efficiency table (topologies/efficiency.yaml plus calibration layers) and of the
// shape functions of sim/cost/efficiency.hpp. Expected figures are the ones written in
// topologies/efficiency.yaml, whose comments carry their sources.

#include "sim/cost/efficiency.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/hw/gpu.hpp"

namespace moesim::cost {
namespace {

namespace fs = std::filesystem;

config::Catalog source_catalog() { return config::Catalog(fs::path{MOESIM_SOURCE_DIR}); }

config::ConfigNode fixture(const std::string& name) {
  return config::ConfigNode::load_file(fs::path{MOESIM_TEST_DATA_DIR} / "cost" / name);
}

/// The ConfigError message of parsing `yaml` as an efficiency layer ("" if none).
std::string layer_error(const config::ConfigNode& root) {
  try {
    (void)parse_efficiency_layer(root);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

TEST_CASE("every catalog GPU resolves to a complete set of efficiency parameters") {
  const config::Catalog catalog = source_catalog();
  const EfficiencyTable table = EfficiencyTable::load(catalog);
  for (const std::string& name : catalog.names(hw::kGpuSection)) {
    CAPTURE(name);
    const EfficiencyParams p = table.resolve(hw::load_gpu(catalog, name));
    CHECK(p.hbm_stream > 0.0);
    CHECK(p.gemm_memory_vs_stream > 0.0);
    CHECK(p.tile.m > 0);
    CHECK(p.tile.n > 0);
    CHECK(p.mma_m > 0);
    CHECK(p.gemm_compute.has(DType::kBF16));
    CHECK(p.gemm_compute.has(DType::kFP8));
    CHECK(p.attention_compute.has(DType::kBF16));
    CHECK(p.mla_decode_compute.has(DType::kBF16));
  }
}

TEST_CASE("hopper defaults are the MAMF fractions and the H200 has its own HBM figure") {
  const config::Catalog catalog = source_catalog();
  const EfficiencyTable table = EfficiencyTable::load(catalog);
  const EfficiencyParams h100 = table.resolve(hw::load_gpu(catalog, "h100"));
  // MAMF on H100 SXM (S2): BF16 794.5 / 989.4 = 0.803, FP8 1402.6 / 1979 = 0.709.
  CHECK(*h100.gemm_compute.get(DType::kBF16) == doctest::Approx(0.803));
  CHECK(*h100.gemm_compute.get(DType::kFP8) == doctest::Approx(0.709));
  // Hopper has no FP4 tensor path, and the file gives it no FP4 figure.
  CHECK_FALSE(h100.gemm_compute.has(DType::kFP4));
  // Arch default (S59) for the H100; the H200 override (S57 TileOPs 4,255 / 4,800 GB/s).
  CHECK(h100.hbm_stream == doctest::Approx(0.90));
  CHECK(table.resolve(hw::load_gpu(catalog, "h200")).hbm_stream == doctest::Approx(0.887));
  CHECK(h100.launch_gap == microseconds(2));
  CHECK(h100.host_launch == microseconds(5));
  CHECK(h100.store_exposed == doctest::Approx(1.0));
  CHECK(h100.key_path == "archs.hopper");
  // Blackwell keeps its output store behind the main loop (TMEM) and has an FP4 figure.
  const EfficiencyParams gb200 = table.resolve(hw::load_gpu(catalog, "gb200"));
  CHECK(gb200.store_exposed == doctest::Approx(0.0));
  CHECK(*gb200.gemm_compute.get(DType::kFP4) == doctest::Approx(0.763));
  CHECK(gb200.hbm_stream == doctest::Approx(0.84));
}

TEST_CASE("a calibration layer overrides only the values it sets") {
  const config::Catalog catalog = source_catalog();
  EfficiencyTable table = EfficiencyTable::load(catalog);
  table.add_layer(parse_efficiency_layer(fixture("calibration_h200.yaml")));
  const EfficiencyParams h200 = table.resolve(hw::load_gpu(catalog, "h200"));
  CHECK(h200.hbm_stream == doctest::Approx(0.93));
  CHECK(*h200.gemm_compute.get(DType::kFP8) == doctest::Approx(0.75));
  CHECK(h200.launch_gap == microseconds(1));
  // Untouched values keep their defaults.
  CHECK(*h200.gemm_compute.get(DType::kBF16) == doctest::Approx(0.803));
  CHECK(h200.host_launch == microseconds(5));
  CHECK(h200.sources.find("calibration_h200.yaml") != std::string::npos);
  // Another GPU of the same arch only sees the global overhead change.
  const EfficiencyParams h100 = table.resolve(hw::load_gpu(catalog, "h100"));
  CHECK(h100.hbm_stream == doctest::Approx(0.90));
  CHECK(*h100.gemm_compute.get(DType::kFP8) == doctest::Approx(0.709));
  CHECK(h100.launch_gap == microseconds(1));
}

TEST_CASE("malformed efficiency files are rejected at the offending key") {
  const std::string typo = layer_error(fixture("misspelt_key.yaml"));
  CHECK(typo.find("hbm_steam") != std::string::npos);
  CHECK(typo.find("did you mean 'hbm_stream'") != std::string::npos);
  const std::string above = layer_error(fixture("fraction_above_one.yaml"));
  CHECK(above.find("archs.hopper.gemm.compute.bf16") != std::string::npos);
  CHECK(above.find("(0, 1]") != std::string::npos);
  const std::string arch = layer_error(fixture("unknown_arch.yaml"));
  CHECK(arch.find("did you mean 'hopper'") != std::string::npos);
  const std::string dtype = layer_error(config::ConfigNode::parse(
      "archs:\n  hopper:\n    gemm:\n      compute: {fp7: 0.5}\n", "inline"));
  CHECK(dtype.find("fp7") != std::string::npos);
  const std::string tile = layer_error(config::ConfigNode::parse(
      "archs:\n  hopper:\n    gemm:\n      tile: {m: 0, n: 128}\n", "inline"));
  CHECK(tile.find("archs.hopper.gemm.tile.m") != std::string::npos);
}

TEST_CASE("a value no layer sets fails resolution with the key and the GPU") {
  const config::Catalog catalog = source_catalog();
  const EfficiencyTable table = EfficiencyTable::parse(fixture("incomplete.yaml"));
  try {
    (void)table.resolve(hw::load_gpu(catalog, "h100"));
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "archs.hopper.gemm.tile");
    CHECK(std::string(e.what()).find("h100") != std::string::npos);
  }
  // An arch with no block at all (the file has only hopper): rejected, not silently defaulted.
  CHECK_THROWS_AS((void)table.resolve(hw::load_gpu(catalog, "b200")), ConfigError);
}

TEST_CASE("a GPU of an arch without figures (rubin) is a ConfigError, not a default") {
  const config::Catalog catalog = source_catalog();
  const EfficiencyTable table = EfficiencyTable::load(catalog);
  hw::GpuSpec rubin = hw::load_gpu(catalog, "b300");
  rubin.name = "rubin-test";
  rubin.arch = hw::Arch::kRubin;
  try {
    (void)table.resolve(rubin);
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.key_path() == "archs.rubin");
  }
}

constexpr GemmTile kTile{128, 128};
constexpr std::int64_t kMmaM = 64;

TEST_CASE("GEMM waves: a partly empty last wave lowers utilization") {
  // 4096 x 4096 output in 128 x 128 tiles: 32 x 32 = 1,024 tiles on 132 SMs = 7.76 waves,
  // run as 8: u = 1,024 / (8 x 132) = 0.969697.
  const RowBlocks r = row_blocks(4096, 1, kTile, kMmaM);
  CHECK(r.row_tiles == 32);
  CHECK(gemm_utilization(r, 4096, kTile, 132) == doctest::Approx(1024.0 / 1056.0));
  // Exactly one full wave: 132 row tiles of 128 rows, one column tile: u = 1.
  CHECK(gemm_utilization(row_blocks(132 * 128, 1, kTile, kMmaM), 128, kTile, 132) ==
        doctest::Approx(1.0));
  // One tile more needs a second, almost empty wave: u = 133 / 264.
  CHECK(gemm_utilization(row_blocks(133 * 128, 1, kTile, kMmaM), 128, kTile, 132) ==
        doctest::Approx(133.0 / 264.0));
  // Rows and columns are padded to whole tiles: M = N = 4100 needs 33 x 33 = 1,089 tiles,
  // 8.25 waves run as 9: u = 4100 x 4100 / (9 x 132 x 128 x 128).
  CHECK(gemm_utilization(row_blocks(4100, 1, kTile, kMmaM), 4100, kTile, 132) ==
        doctest::Approx(4100.0 * 4100.0 / (9.0 * 132.0 * 16384.0)));
}

TEST_CASE("GEMM under one wave loses only the tensor-core row padding") {
  // M = 64, N = 2112: 1 x 17 tiles < 132 SMs. Libraries fill the SMs with smaller tiles or
  // split-K (DeepGEMM's unaligned blocks); 64 rows fill a 64-row MMA exactly: u = 1.
  CHECK(gemm_utilization(row_blocks(64, 1, kTile, kMmaM), 2112, kTile, 132) ==
        doctest::Approx(1.0));
  // M = 1 (decode GEMV): one useful row of 64: u = 1/64.
  CHECK(gemm_utilization(row_blocks(1, 1, kTile, kMmaM), 7168, kTile, 132) ==
        doctest::Approx(1.0 / 64.0));
  // No rows: nothing to waste.
  CHECK(gemm_utilization(row_blocks(0, 1, kTile, kMmaM), 7168, kTile, 132) == 1.0);
}

TEST_CASE("grouped GEMM rows are tiled per expert") {
  // Experts with 1, 0 and 130 tokens: row tiles 1 + 0 + 2 = 3; MMA padding 64 + 0 + 192 = 256.
  const std::vector<std::int32_t> tokens = {1, 0, 130};
  const RowBlocks r = row_blocks(tokens, kTile, kMmaM);
  CHECK(r.rows == 131);
  CHECK(r.row_tiles == 3);
  CHECK(r.rows_mma_padded == 256);
  // N = 256: 3 x 2 = 6 tiles < 132, so u = 131 / 256.
  CHECK(gemm_utilization(r, 256, kTile, 132) == doctest::Approx(131.0 / 256.0));
  // The same rows as one dense batch of 3 problems of 64 rows: 3 row tiles, 192 padded rows.
  const RowBlocks b = row_blocks(64, 3, kTile, kMmaM);
  CHECK(b.rows == 192);
  CHECK(b.row_tiles == 3);
  CHECK(b.rows_mma_padded == 192);
}

TEST_CASE("attention rows are padded to the MMA granularity per sequence") {
  // Absorbed MLA, 16 heads, two decode sequences: 16 rows each, padded to 64: u = 32 / 128.
  llm::AttentionOp mla;
  mla.kernel = llm::AttentionKernel::kMlaAbsorbed;
  mla.heads = 16;
  mla.kv_heads = 1;
  mla.q_lens = {1, 1};
  mla.kv_lens = {100, 200};
  CHECK(attention_row_utilization(mla, kMmaM) == doctest::Approx(0.25));
  // 128 heads fill two blocks exactly.
  mla.heads = 128;
  CHECK(attention_row_utilization(mla, kMmaM) == doctest::Approx(1.0));
  // GQA 32 query heads over 8 K/V heads (4 per group), a 100-token prefill: 400 rows of 448.
  llm::AttentionOp gqa;
  gqa.heads = 32;
  gqa.kv_heads = 8;
  gqa.q_lens = {100};
  gqa.kv_lens = {100};
  CHECK(attention_row_utilization(gqa, kMmaM) == doctest::Approx(400.0 / 448.0));
}

}  // namespace
}  // namespace moesim::cost
