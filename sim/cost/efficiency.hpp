#pragma once
/// \file
/// Kernel efficiencies: the fractions of datasheet peaks that real kernels reach, read from
/// topologies/efficiency.yaml (schema in that file's header) and optional calibration files,
/// resolved once per GPU into EfficiencyParams, plus the shape functions the roofline model
/// applies per op (wave quantization, small-M padding). The figures and their sources live in
/// the YAML, never here.
///
/// Shape functions (used by sim/cost/impl/roofline.cpp):
///  - GEMM tile utilization. A GEMM's output is cut into tiles of tile.m x tile.n, one per SM
///    at a time (persistent kernels, DeepGEMM README S54). With T tiles on S SMs:
///      T >= S:  u = (useful rows x n) / (ceil(T / S) x S x tile.m x tile.n)
///               (wave quantization: the last wave runs partly empty; rows and n are padded
///               to whole tiles);
///      T <  S:  u = rows / (rows padded to mma_m per problem)
///               (libraries fill the machine with smaller tiles or split-K, DeepGEMM's
///               unaligned blocks, S54; only the tensor-core row granularity is lost).
///    u never exceeds 1 and never makes more rows faster (the compute time is non-decreasing
///    in rows and in n).
///  - Attention row utilization. Attention kernels process the query rows of one K/V head of
///    one sequence (q_len x heads / kv_heads rows; for absorbed MLA all heads share one latent)
///    in blocks of mma_m rows: u = sum(rows) / sum(rows padded to mma_m).

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/error.hpp"
#include "sim/core/units.hpp"
#include "sim/hw/gpu.hpp"
#include "sim/llm/step_plan.hpp"

namespace moesim::cost {

/// Catalog section that holds the default efficiency file (the topologies/ folder itself).
inline constexpr std::string_view kEfficiencySection = "topologies";
/// Entry name of the default efficiency file in kEfficiencySection.
inline constexpr std::string_view kDefaultEfficiency = "efficiency";

/// One fraction in (0, 1] per data type; a type without an entry has no figure.
class DTypeFractions {
 public:
  /// Sets the fraction for `t`; `fraction` must be in (0, 1].
  void set(DType t, double fraction);
  /// The fraction for `t`, or std::nullopt when none was given.
  std::optional<double> get(DType t) const { return v_[static_cast<std::size_t>(t)]; }
  bool has(DType t) const { return get(t).has_value(); }
  /// Copies every entry `other` has over this one's.
  void update(const DTypeFractions& other);

 private:
  std::array<std::optional<double>, kAllDTypes.size()> v_{};
};

/// Output tile of one SM, in elements.
struct GemmTile {
  std::int64_t m = 0;  ///< rows (tokens)
  std::int64_t n = 0;  ///< columns (output features)
};

/// Efficiency parameters of one GPU, every field set: the result of EfficiencyTable::resolve.
struct EfficiencyParams {
  DTypeFractions gemm_compute;         ///< large-GEMM fraction of peak_dense, per compute type
  DTypeFractions attention_compute;    ///< FlashAttention-class kernels, per compute type
  DTypeFractions mla_decode_compute;   ///< absorbed-MLA decode kernels, per compute type
  GemmTile tile;                       ///< per-SM output tile (wave quantization)
  std::int64_t mma_m = 0;              ///< tensor-core row granularity (small-M padding)
  double store_exposed = 0.0;          ///< fraction of a GEMM's output store not overlapped
  double gemm_memory_vs_stream = 0.0;  ///< GEMM operand streaming / streaming bandwidth
  double hbm_stream = 0.0;             ///< fraction of hbm.bandwidth reached by streaming
  Duration launch_gap{0};              ///< GPU-side cost per kernel
  Duration host_launch{0};             ///< CPU time to issue one kernel without CUDA graphs
  double step_host_fraction = 0.0;     ///< unhidden host time per step / GPU step time
  SourceLocation location;  ///< the GPU's arch block in the first file (for error messages)
  std::string key_path;     ///< "archs.<arch>", for error messages
  std::string sources;      ///< the files and blocks the values came from, in order
};

/// Values one efficiency file sets for an arch or a GPU; every field optional.
struct EfficiencyPatch {
  DTypeFractions gemm_compute;
  DTypeFractions attention_compute;
  DTypeFractions mla_decode_compute;
  std::optional<GemmTile> tile;
  std::optional<std::int64_t> mma_m;
  std::optional<double> store_exposed;
  std::optional<double> gemm_memory_vs_stream;
  std::optional<double> hbm_stream;
  SourceLocation location;  ///< where the block was written
};

/// One parsed efficiency file (the defaults or a calibration), every key optional.
struct EfficiencyLayer {
  std::string label;  ///< file name, for messages
  std::optional<Duration> launch_gap;
  std::optional<Duration> host_launch;
  std::optional<double> step_host_fraction;
  std::vector<std::pair<hw::Arch, EfficiencyPatch>> archs;
  std::vector<std::pair<std::string, EfficiencyPatch>> gpus;  ///< by GPU catalog name
};

/// Parses one efficiency file. Unknown keys (with a did-you-mean), fractions outside (0, 1]
/// (store_exposed: [0, 1]; step_host_fraction: >= 0), non-positive tiles, unknown archs and
/// data types are ConfigErrors at the offending node.
EfficiencyLayer parse_efficiency_layer(const config::ConfigNode& root);

/// The efficiency defaults plus any calibration layers, in order; later layers win.
class EfficiencyTable {
 public:
  /// A table of one layer (the defaults).
  explicit EfficiencyTable(EfficiencyLayer defaults);
  /// Parses `root` as the defaults.
  static EfficiencyTable parse(const config::ConfigNode& root);
  /// Loads the defaults from `catalog` section kEfficiencySection by name or path.
  static EfficiencyTable load(const config::Catalog& catalog,
                              std::string_view name_or_path = kDefaultEfficiency);

  /// Adds a calibration layer on top: every value it sets replaces the earlier ones.
  void add_layer(EfficiencyLayer layer);
  /// The layers, defaults first.
  std::span<const EfficiencyLayer> layers() const { return layers_; }

  /// Parameters for `gpu`: for each layer, the overheads, then archs.<gpu.arch>, then
  /// gpus.<gpu.name>. A value that no layer sets is a ConfigError naming the key and the GPU
  /// (an arch without any block, e.g. rubin, fails here).
  EfficiencyParams resolve(const hw::GpuSpec& gpu) const;

 private:
  std::vector<EfficiencyLayer> layers_;
};

/// Rows of the independent problems of a (grouped) GEMM, counted for tiling.
struct RowBlocks {
  std::int64_t rows = 0;             ///< useful rows, summed over problems
  std::int64_t row_tiles = 0;        ///< sum of ceil(rows_i / tile.m)
  std::int64_t rows_mma_padded = 0;  ///< sum of rows_i rounded up to mma_m
};

/// `count` problems of `m` rows each (a dense GEMM with batch = count). m, count >= 0.
RowBlocks row_blocks(std::int64_t m, std::int64_t count, const GemmTile& tile, std::int64_t mma_m);
/// One problem per entry of `rows` (a grouped GEMM's tokens per expert; entries >= 0).
RowBlocks row_blocks(std::span<const std::int32_t> rows, const GemmTile& tile, std::int64_t mma_m);

/// Tile utilization u in (0, 1] of a GEMM with output width `n` on `sms` SMs (file comment);
/// 1 when there are no rows.
double gemm_utilization(const RowBlocks& rows, std::int64_t n, const GemmTile& tile, int sms);

/// Row utilization u in (0, 1] of an attention op's query rows in blocks of `mma_m` (file
/// comment); 1 when there are no rows.
double attention_row_utilization(const llm::AttentionOp& op, std::int64_t mma_m);

/// Query-row blocks of an attention op: per sequence and K/V head, its query rows (file
/// comment) in blocks of `mma_m`, i.e. kv_heads x sum_s ceil(q_s x heads / kv_heads / mma_m)
/// (absorbed MLA: one latent head). 0 when there are no rows.
std::int64_t attention_row_blocks(const llm::AttentionOp& op, std::int64_t mma_m);

}  // namespace moesim::cost
