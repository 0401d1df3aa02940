#include "sim/cost/kernel_family.hpp"

#include <algorithm>

#include "sim/core/assert.hpp"
#include "sim/llm/param_count.hpp"

namespace moesim::cost {
namespace {

constexpr std::string_view kTermNames[kTerms] = {
    "fixed",        "stream", "token_bytes", "compute",   "per_expert",
    "per_sequence", "k_wave", "per_wave",    "per_route", "per_row"};

std::uint8_t dtype_index(std::string_view label) {
  for (std::size_t i = 0; i < kFamilyDtypes.size(); ++i) {
    if (kFamilyDtypes[i] == label) return static_cast<std::uint8_t>(i);
  }
  MOESIM_ASSERT(false, "a family data type label is one of kFamilyDtypes");
  return 0;
}

/// The family label of a weight format, as the gemm and moe tables name it.
std::string_view weight_label(llm::WeightFormat f, DType activations) {
  switch (f) {
    case llm::WeightFormat::kFP8Tensor: return "fp8";
    case llm::WeightFormat::kFP8Block128: return "fp8_block";
    case llm::WeightFormat::kNVFP4: return "nvfp4";
    case llm::WeightFormat::kMXFP4:
      return activations == DType::kBF16 ? "w4a16_mxfp4" : "w4a8_mxfp4";
    case llm::WeightFormat::kBF16:
    case llm::WeightFormat::kFP16:
    case llm::WeightFormat::kFP32: return "bf16";
  }
  return "bf16";
}

std::string_view attention_label(DType t) { return t == DType::kFP8 ? "fp8" : "bf16"; }

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// V k of kernel_family.hpp: waves of `row_tiles` x ceil(n / tile.n) CTAs over `sms`, times k.
double k_waves(std::int64_t row_tiles, std::int64_t n, std::int64_t k, const GemmTile& tile,
               int sms) {
  const std::int64_t tiles = row_tiles * ceil_div(n, tile.n);
  return static_cast<double>(ceil_div(tiles, sms) * k);
}

/// Whether every sequence of `a` adds one token to a cached context (q = 1 < kv): the decode
/// kernel. A one-token prompt (q = kv = 1) has no cache and runs the context kernel, as the
/// context tables' isl = 1 rows do.
bool extends_cache_by_one(const llm::AttentionOp& a) {
  for (std::size_t i = 0; i < a.q_lens.size(); ++i) {
    if (a.q_lens[i] != 1 || a.kv_lens[i] <= 1) return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(Term t) { return kTermNames[static_cast<std::size_t>(t)]; }

FamilyTime family_time(const Features& coef, const Features& x) {
  auto term = [&](Term t) {
    const auto i = static_cast<std::size_t>(t);
    return coef[i] * x[i];
  };
  FamilyTime f;
  f.overhead = term(Term::kFixed) + term(Term::kPerExpert) + term(Term::kPerSequence) +
               term(Term::kPerWave) + term(Term::kPerRoute) + term(Term::kPerRow);
  f.tokens = term(Term::kTokenBytes);
  f.memory = term(Term::kStream);
  f.compute = term(Term::kCompute) + term(Term::kKWave);
  return f;
}

std::string FamilyKey::name() const {
  return std::string(to_string(op)) + "." + std::string(kFamilyDtypes[dtype]);
}

std::optional<FamilyKey> parse_family(std::string_view name) {
  for (const MeasuredOp op : kAllMeasuredOps) {
    for (std::size_t d = 0; d < kFamilyDtypes.size(); ++d) {
      const FamilyKey key{op, static_cast<std::uint8_t>(d)};
      if (key.name() == name) return key;
    }
  }
  return std::nullopt;
}

std::vector<std::string> family_names() {
  std::vector<std::string> v;
  for (const MeasuredOp op : kAllMeasuredOps) {
    for (std::size_t d = 0; d < kFamilyDtypes.size(); ++d) {
      v.push_back(FamilyKey{op, static_cast<std::uint8_t>(d)}.name());
    }
  }
  return v;
}

std::optional<FamilyKey> family_of(const llm::OpBody& body) {
  if (const auto* g = std::get_if<llm::GemmOp>(&body)) {
    if (g->batch > 1) {
      return FamilyKey{MeasuredOp::kBmm,
                       dtype_index(attention_label(llm::element_type(g->b_format)))};
    }
    return FamilyKey{MeasuredOp::kGemm, dtype_index(weight_label(g->b_format, g->a_type))};
  }
  if (const auto* g = std::get_if<llm::GroupedGemmOp>(&body)) {
    return FamilyKey{MeasuredOp::kMoe, dtype_index(weight_label(g->b_format, g->a_type))};
  }
  if (const auto* a = std::get_if<llm::AttentionOp>(&body)) {
    switch (a->kernel) {
      case llm::AttentionKernel::kMlaAbsorbed:
        return FamilyKey{MeasuredOp::kMlaDecode, dtype_index(attention_label(a->kv_type))};
      case llm::AttentionKernel::kMlaExpanded:
        return FamilyKey{MeasuredOp::kMlaPrefill, dtype_index(attention_label(a->compute))};
      case llm::AttentionKernel::kMha:
        if (extends_cache_by_one(*a)) {
          return FamilyKey{MeasuredOp::kGqaDecode, dtype_index(attention_label(a->kv_type))};
        }
        return FamilyKey{MeasuredOp::kGqaPrefill, dtype_index(attention_label(a->compute))};
    }
  }
  return std::nullopt;
}

std::array<std::string_view, 3> range_names(MeasuredOp op) {
  switch (op) {
    case MeasuredOp::kGemm: return {"m", "n", "k"};
    case MeasuredOp::kBmm: return {"m", "n_x_k", "batch"};
    case MeasuredOp::kMoe: return {"rows", "rows_per_expert", "n_x_k"};
    default: return {"sequences", "kv_len", "heads"};
  }
}

Featurizer::Featurizer(const hw::GpuSpec& gpu, const EfficiencyParams& params)
    : gpu_(gpu), params_(params), bandwidth_(gpu.hbm.bandwidth.base()) {
  MOESIM_ASSERT(bandwidth_ > 0.0 && gpu_.sms > 0, "a GPU needs HBM bandwidth and SMs");
}

double Featurizer::peak(DType t) const {
  const std::optional<FlopRate> p = gpu_.peak_dense.get(t);
  if (p) return p->base();
  // A type the GPU lacks (FP4 on Hopper): the kernel runs at the next wider type's rate.
  const std::optional<FlopRate> fp8 = gpu_.peak_dense.get(DType::kFP8);
  MOESIM_ASSERT(fp8.has_value(), "a GPU with tensor cores has an FP8 or wider peak");
  return fp8->base();
}

Features Featurizer::features(const llm::OpBody& body, Flops op_flops, Bytes op_bytes) const {
  Features f{};
  f[static_cast<std::size_t>(Term::kFixed)] = 1.0;
  auto set = [&f](Term t, double v) { f[static_cast<std::size_t>(t)] = v; };
  const double bytes = static_cast<double>(op_bytes.base());
  const double flops = op_flops.base();
  if (const auto* g = std::get_if<llm::GemmOp>(&body)) {
    const RowBlocks rows = row_blocks(g->m, g->batch, params_.tile, params_.mma_m);
    const double u = gemm_utilization(rows, g->n, params_.tile, gpu_.sms);
    set(Term::kStream, bytes / bandwidth_);
    set(Term::kCompute, flops / (peak(g->compute) * u));
    if (g->m > 0 && bits_of(g->a_type) < bits_of(DType::kBF16)) {
      // The quantization pass: read the BF16 input, write the quantized operand and scales.
      const std::int64_t quantize =
          g->batch * (g->m * g->k * bits_of(DType::kBF16) / 8 +
                      llm::activation_bytes(g->m, g->k, g->a_type, g->b_format).base());
      set(Term::kTokenBytes, static_cast<double>(quantize) / bandwidth_);
      set(Term::kPerRow, static_cast<double>(g->m * g->batch));
    }
    set(Term::kKWave, k_waves(rows.row_tiles, g->n, g->k, params_.tile, gpu_.sms));
  } else if (const auto* gg = std::get_if<llm::GroupedGemmOp>(&body)) {
    const RowBlocks rows = row_blocks(gg->tokens_per_expert, params_.tile, params_.mma_m);
    const double u = gemm_utilization(rows, gg->n, params_.tile, gpu_.sms);
    const double weights = static_cast<double>(
        (llm::tensor_bytes(gg->n, gg->k, gg->b_format).total() * std::int64_t{gg->active_experts()})
            .base());
    set(Term::kStream, weights / bandwidth_);
    set(Term::kTokenBytes, (bytes - weights) / bandwidth_);
    set(Term::kCompute, flops / (peak(gg->compute) * u));
    set(Term::kPerExpert, static_cast<double>(gg->active_experts()));
    set(Term::kPerRoute, static_cast<double>(gg->routes_in));
    if (rows.rows > 0) {
      set(Term::kKWave, k_waves(rows.row_tiles, gg->n, gg->k, params_.tile, gpu_.sms));
    }
  } else if (const auto* a = std::get_if<llm::AttentionOp>(&body)) {
    const double u = attention_row_utilization(*a, params_.mma_m);
    set(Term::kStream, bytes / bandwidth_);
    set(Term::kCompute, flops / (peak(DType::kBF16) * u));
    set(Term::kPerSequence, static_cast<double>(a->q_lens.size()));
    const std::int64_t waves =
        ceil_div(attention_row_blocks(*a, params_.mma_m), std::int64_t{gpu_.sms});
    set(Term::kPerWave, static_cast<double>(waves));
    std::int64_t longest = 0;
    for (std::size_t i = 0; i < a->q_lens.size(); ++i) {
      longest =
          std::max(longest, llm::visible_keys(a->q_lens[i], a->kv_lens[i], a->window, a->chunked));
    }
    set(Term::kKWave, static_cast<double>(waves * longest));
  } else {
    MOESIM_ASSERT(false, "only Gemm, GroupedGemm and Attention ops belong to a family");
  }
  return f;
}

RangeVars Featurizer::range_vars(const llm::OpBody& body) {
  if (const auto* g = std::get_if<llm::GemmOp>(&body)) {
    if (g->batch > 1) return {g->m, g->n * g->k, g->batch};
    return {g->m, g->n, g->k};
  }
  if (const auto* g = std::get_if<llm::GroupedGemmOp>(&body)) {
    const std::int64_t rows = g->total_tokens();
    const std::int64_t active = std::max<std::int64_t>(g->active_experts(), 1);
    return {rows, (rows + active - 1) / active, g->n * g->k};
  }
  if (const auto* a = std::get_if<llm::AttentionOp>(&body)) {
    std::int64_t longest = 0;
    for (const std::int32_t l : a->kv_lens) longest = std::max<std::int64_t>(longest, l);
    return {static_cast<std::int64_t>(a->q_lens.size()), longest, a->heads};
  }
  return {0, 0, 0};
}

}  // namespace moesim::cost
