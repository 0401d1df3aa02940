#include "sim/cost/efficiency.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "sim/core/assert.hpp"

namespace moesim::cost {
namespace {

using config::ConfigNode;

constexpr std::array<hw::Arch, 4> kAllArchs = {hw::Arch::kHopper, hw::Arch::kBlackwell,
                                               hw::Arch::kBlackwellUltra, hw::Arch::kRubin};

/// Largest tile edge or instruction granularity accepted, in elements.
constexpr std::int64_t kMaxTileEdge = 4096;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// A number in (0, 1].
double read_fraction(const ConfigNode& node) {
  const double v = node.as_double();
  if (!(v > 0.0 && v <= 1.0)) node.fail("a fraction in (0, 1]");
  return v;
}

/// A number in [0, 1].
double read_closed_fraction(const ConfigNode& node) {
  const double v = node.as_double();
  if (!(v >= 0.0 && v <= 1.0)) node.fail("a fraction in [0, 1]");
  return v;
}

std::int64_t read_edge(const ConfigNode& node) {
  const std::int64_t v = node.as_int();
  if (v < 1 || v > kMaxTileEdge) {
    node.fail("a whole number of elements in [1, " + std::to_string(kMaxTileEdge) + "]");
  }
  return v;
}

DTypeFractions read_fractions(const ConfigNode& node) {
  if (!node.is_map()) node.fail("a map from data type to fraction of peak, such as {bf16: 0.8}");
  std::array<std::string_view, kAllDTypes.size()> names{};
  for (std::size_t i = 0; i < kAllDTypes.size(); ++i) names[i] = to_string(kAllDTypes[i]);
  node.check_keys(names);
  DTypeFractions f;
  for (const auto& [key, value] : node.entries()) {
    const std::optional<DType> type = parse_dtype(key);
    MOESIM_ASSERT(type.has_value(), "check_keys admits only data type names");
    f.set(*type, read_fraction(value));
  }
  return f;
}

EfficiencyPatch read_patch(const ConfigNode& node) {
  if (!node.is_map()) node.fail("a map with hbm_stream, gemm and attention figures");
  node.check_keys({"hbm_stream", "gemm", "attention"});
  EfficiencyPatch p;
  p.location = node.location();
  if (auto v = node.get("hbm_stream")) p.hbm_stream = read_fraction(*v);
  if (auto gemm = node.get("gemm")) {
    gemm->check_keys({"compute", "tile", "mma_m", "store_exposed", "memory_vs_stream"});
    if (auto v = gemm->get("compute")) p.gemm_compute = read_fractions(*v);
    if (auto v = gemm->get("tile")) {
      v->check_keys({"m", "n"});
      p.tile = GemmTile{read_edge(v->at("m")), read_edge(v->at("n"))};
    }
    if (auto v = gemm->get("mma_m")) p.mma_m = read_edge(*v);
    if (auto v = gemm->get("store_exposed")) p.store_exposed = read_closed_fraction(*v);
    if (auto v = gemm->get("memory_vs_stream")) p.gemm_memory_vs_stream = read_fraction(*v);
  }
  if (auto att = node.get("attention")) {
    att->check_keys({"compute", "mla_decode_compute"});
    if (auto v = att->get("compute")) p.attention_compute = read_fractions(*v);
    if (auto v = att->get("mla_decode_compute")) p.mla_decode_compute = read_fractions(*v);
  }
  return p;
}

std::string_view arch_name(hw::Arch a) { return hw::to_string(a); }

/// The fields of EfficiencyParams while layers are applied; each required one optional.
struct Pending {
  EfficiencyParams params;
  std::optional<GemmTile> tile;
  std::optional<std::int64_t> mma_m;
  std::optional<double> store_exposed;
  std::optional<double> gemm_memory_vs_stream;
  std::optional<double> hbm_stream;
  std::optional<Duration> launch_gap;
  std::optional<Duration> host_launch;
  std::optional<double> step_host_fraction;

  void apply(const EfficiencyPatch& p) {
    params.gemm_compute.update(p.gemm_compute);
    params.attention_compute.update(p.attention_compute);
    params.mla_decode_compute.update(p.mla_decode_compute);
    if (p.tile) tile = p.tile;
    if (p.mma_m) mma_m = p.mma_m;
    if (p.store_exposed) store_exposed = p.store_exposed;
    if (p.gemm_memory_vs_stream) gemm_memory_vs_stream = p.gemm_memory_vs_stream;
    if (p.hbm_stream) hbm_stream = p.hbm_stream;
  }
};

template <class T>
T require(const std::optional<T>& v, std::string_view key, const EfficiencyParams& p,
          const hw::GpuSpec& gpu) {
  if (!v) {
    throw ConfigError(p.location, p.key_path + "." + std::string(key),
                      "a value for " + std::string(key) + " (GPU " + gpu.name + ")",
                      "none in " + p.sources);
  }
  return *v;
}

}  // namespace

void DTypeFractions::set(DType t, double fraction) {
  MOESIM_ASSERT(fraction > 0.0 && fraction <= 1.0, "an efficiency fraction must be in (0, 1]");
  v_[static_cast<std::size_t>(t)] = fraction;
}

void DTypeFractions::update(const DTypeFractions& other) {
  for (std::size_t i = 0; i < v_.size(); ++i) {
    if (other.v_[i]) v_[i] = other.v_[i];
  }
}

EfficiencyLayer parse_efficiency_layer(const ConfigNode& root) {
  if (!root.is_map()) root.fail("an efficiency file (a map with overheads, archs, gpus)");
  root.check_keys({"description", "provenance", "overheads", "archs", "gpus"});
  EfficiencyLayer layer;
  layer.label = root.location().file;
  if (auto d = root.get("description")) (void)d->as_string();
  if (auto o = root.get("overheads")) {
    o->check_keys({"launch_gap", "host_launch", "step_host_fraction"});
    if (auto v = o->get("launch_gap")) layer.launch_gap = v->as_duration();
    if (auto v = o->get("host_launch")) layer.host_launch = v->as_duration();
    if (auto v = o->get("step_host_fraction")) {
      const double f = v->as_double();
      if (!(f >= 0.0 && std::isfinite(f))) v->fail("a non-negative fraction of the step time");
      layer.step_host_fraction = f;
    }
  }
  if (auto archs = root.get("archs")) {
    std::array<std::string_view, kAllArchs.size()> names{};
    for (std::size_t i = 0; i < kAllArchs.size(); ++i) names[i] = arch_name(kAllArchs[i]);
    archs->check_keys(names);
    for (const auto& [key, value] : archs->entries()) {
      for (hw::Arch a : kAllArchs) {
        if (arch_name(a) == key) layer.archs.emplace_back(a, read_patch(value));
      }
    }
  }
  if (auto gpus = root.get("gpus")) {
    if (!gpus->is_map()) gpus->fail("a map from GPU catalog name to efficiency figures");
    for (const auto& [key, value] : gpus->entries())
      layer.gpus.emplace_back(key, read_patch(value));
  }
  return layer;
}

EfficiencyTable::EfficiencyTable(EfficiencyLayer defaults) {
  layers_.push_back(std::move(defaults));
}

EfficiencyTable EfficiencyTable::parse(const ConfigNode& root) {
  return EfficiencyTable(parse_efficiency_layer(root));
}

EfficiencyTable EfficiencyTable::load(const config::Catalog& catalog,
                                      std::string_view name_or_path) {
  return parse(catalog.load(kEfficiencySection, name_or_path));
}

void EfficiencyTable::add_layer(EfficiencyLayer layer) { layers_.push_back(std::move(layer)); }

EfficiencyParams EfficiencyTable::resolve(const hw::GpuSpec& gpu) const {
  Pending pending;
  EfficiencyParams& p = pending.params;
  p.key_path = "archs." + std::string(arch_name(gpu.arch));
  bool located = false;
  for (const EfficiencyLayer& layer : layers_) {
    if (layer.launch_gap) pending.launch_gap = layer.launch_gap;
    if (layer.host_launch) pending.host_launch = layer.host_launch;
    if (layer.step_host_fraction) pending.step_host_fraction = layer.step_host_fraction;
    std::string used;
    for (const auto& [arch, patch] : layer.archs) {
      if (arch != gpu.arch) continue;
      pending.apply(patch);
      used += p.key_path;
      if (!located) {
        p.location = patch.location;
        located = true;
      }
    }
    for (const auto& [name, patch] : layer.gpus) {
      if (name != gpu.name) continue;
      pending.apply(patch);
      used += (used.empty() ? "" : ", ") + ("gpus." + name);
    }
    if (!p.sources.empty()) p.sources += "; ";
    p.sources += layer.label + (used.empty() ? "" : " (" + used + ")");
  }
  if (!located) {
    const std::string file = layers_.front().label;
    throw ConfigError(SourceLocation{file, 0, 0}, p.key_path,
                      "efficiency figures for arch '" + std::string(arch_name(gpu.arch)) +
                          "' (GPU " + gpu.name + ")",
                      "no " + p.key_path + " block in " + p.sources);
  }
  p.tile = require(pending.tile, "gemm.tile", p, gpu);
  p.mma_m = require(pending.mma_m, "gemm.mma_m", p, gpu);
  p.store_exposed = require(pending.store_exposed, "gemm.store_exposed", p, gpu);
  p.gemm_memory_vs_stream = require(pending.gemm_memory_vs_stream, "gemm.memory_vs_stream", p, gpu);
  p.hbm_stream = require(pending.hbm_stream, "hbm_stream", p, gpu);
  p.launch_gap = require(pending.launch_gap, "overheads.launch_gap", p, gpu);
  p.host_launch = require(pending.host_launch, "overheads.host_launch", p, gpu);
  p.step_host_fraction =
      require(pending.step_host_fraction, "overheads.step_host_fraction", p, gpu);
  return p;
}

RowBlocks row_blocks(std::int64_t m, std::int64_t count, const GemmTile& tile, std::int64_t mma_m) {
  MOESIM_ASSERT(m >= 0 && count >= 0, "GEMM rows and batch must be non-negative");
  MOESIM_ASSERT(tile.m > 0 && mma_m > 0, "tile and MMA granularity must be positive");
  RowBlocks r;
  r.rows = m * count;
  r.row_tiles = ceil_div(m, tile.m) * count;
  r.rows_mma_padded = ceil_div(m, mma_m) * mma_m * count;
  return r;
}

RowBlocks row_blocks(std::span<const std::int32_t> rows, const GemmTile& tile, std::int64_t mma_m) {
  MOESIM_ASSERT(tile.m > 0 && tile.m <= kMaxTileEdge && mma_m > 0 && mma_m <= kMaxTileEdge,
                "tile and MMA granularity must be in [1, 4096]");
  // Hot path (one entry per local expert, every MoE layer of every step): idle experts are
  // skipped, and power-of-two tiles (the usual case) use shifts instead of divisions.
  RowBlocks r;
  const bool pow2 = std::has_single_bit(static_cast<std::uint64_t>(tile.m)) &&
                    std::has_single_bit(static_cast<std::uint64_t>(mma_m));
  if (pow2) {
    const int tile_shift = std::countr_zero(static_cast<std::uint64_t>(tile.m));
    const int mma_shift = std::countr_zero(static_cast<std::uint64_t>(mma_m));
    for (const std::int32_t m : rows) {
      MOESIM_ASSERT(m >= 0, "tokens per expert must be non-negative");
      if (m == 0) continue;
      const auto u = static_cast<std::uint32_t>(m) - 1U;
      r.rows += m;
      r.row_tiles += (u >> tile_shift) + 1;
      r.rows_mma_padded += static_cast<std::int64_t>((u >> mma_shift) + 1) << mma_shift;
    }
    return r;
  }
  const auto tm = static_cast<std::uint32_t>(tile.m);
  const auto mm = static_cast<std::uint32_t>(mma_m);
  for (const std::int32_t m : rows) {
    MOESIM_ASSERT(m >= 0, "tokens per expert must be non-negative");
    if (m == 0) continue;
    const auto u = static_cast<std::uint32_t>(m) - 1U;
    r.rows += m;
    r.row_tiles += u / tm + 1;
    r.rows_mma_padded += static_cast<std::int64_t>(u / mm + 1) * mm;
  }
  return r;
}

double gemm_utilization(const RowBlocks& rows, std::int64_t n, const GemmTile& tile, int sms) {
  MOESIM_ASSERT(n >= 0 && sms > 0 && tile.m > 0 && tile.n > 0, "bad GEMM tiling inputs");
  if (rows.rows == 0 || n == 0) return 1.0;
  const std::int64_t tiles = rows.row_tiles * ceil_div(n, tile.n);
  if (tiles >= sms) {
    const std::int64_t waves = ceil_div(tiles, sms);
    const double slots = static_cast<double>(waves) * static_cast<double>(sms) *
                         static_cast<double>(tile.m) * static_cast<double>(tile.n);
    return static_cast<double>(rows.rows) * static_cast<double>(n) / slots;
  }
  return static_cast<double>(rows.rows) / static_cast<double>(rows.rows_mma_padded);
}

double attention_row_utilization(const llm::AttentionOp& op, std::int64_t mma_m) {
  MOESIM_ASSERT(mma_m > 0, "MMA granularity must be positive");
  MOESIM_ASSERT(op.heads >= 0 && op.kv_heads >= 0, "attention heads must be non-negative");
  if (op.heads == 0) return 1.0;
  const std::int64_t group = op.kernel == llm::AttentionKernel::kMlaAbsorbed || op.kv_heads == 0
                                 ? op.heads
                                 : ceil_div(op.heads, op.kv_heads);
  std::int64_t rows = 0;
  std::int64_t padded = 0;
  for (const std::int32_t q : op.q_lens) {
    MOESIM_ASSERT(q >= 0, "query lengths must be non-negative");
    const std::int64_t r = static_cast<std::int64_t>(q) * group;
    rows += r;
    padded += ceil_div(r, mma_m) * mma_m;
  }
  if (rows == 0) return 1.0;
  return static_cast<double>(rows) / static_cast<double>(padded);
}

std::int64_t attention_row_blocks(const llm::AttentionOp& op, std::int64_t mma_m) {
  MOESIM_ASSERT(mma_m > 0, "MMA granularity must be positive");
  MOESIM_ASSERT(op.heads >= 0 && op.kv_heads >= 0, "attention heads must be non-negative");
  const bool latent = op.kernel == llm::AttentionKernel::kMlaAbsorbed || op.kv_heads == 0;
  const std::int64_t kv_heads = latent ? 1 : op.kv_heads;
  const std::int64_t group = latent ? op.heads : ceil_div(op.heads, op.kv_heads);
  std::int64_t blocks = 0;
  for (const std::int32_t q : op.q_lens) {
    MOESIM_ASSERT(q >= 0, "query lengths must be non-negative");
    blocks += ceil_div(static_cast<std::int64_t>(q) * group, mma_m);
  }
  return blocks * kv_heads;
}

}  // namespace moesim::cost
