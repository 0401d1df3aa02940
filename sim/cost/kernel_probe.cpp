#include "sim/cost/kernel_probe.hpp"

#include <algorithm>
#include <cmath>

#include "sim/core/assert.hpp"

namespace moesim::cost {
namespace {

// DeepSeek-V3 MLA geometry, the only one the AIConfigurator MLA collectors accept
// (topologies/measured/aiconfigurator/README.md, "Shape selection"; models/deepseek-r1.yaml).
constexpr std::int32_t kKvLora = 512;
constexpr std::int32_t kRope = 64;
constexpr std::int32_t kNope = 128;
constexpr std::int32_t kVHead = 128;
constexpr std::int64_t kFp32Bytes = 4;
constexpr std::int64_t kTopkEntryBytes = 8;  // as lower_ffn.cpp: int32 id + FP32 weight

struct GemmTypes {
  DType a;
  llm::WeightFormat w;
  DType compute;
};

GemmTypes gemm_types(std::string_view dtype) {
  if (dtype == "fp8") return {DType::kFP8, llm::WeightFormat::kFP8Tensor, DType::kFP8};
  if (dtype == "fp8_block") return {DType::kFP8, llm::WeightFormat::kFP8Block128, DType::kFP8};
  if (dtype == "nvfp4") return {DType::kFP4, llm::WeightFormat::kNVFP4, DType::kFP4};
  if (dtype == "w4a16_mxfp4") return {DType::kBF16, llm::WeightFormat::kMXFP4, DType::kBF16};
  if (dtype == "w4a8_mxfp4") return {DType::kFP8, llm::WeightFormat::kMXFP4, DType::kFP8};
  return {DType::kBF16, llm::WeightFormat::kBF16, DType::kBF16};
}

DType attention_type(std::string_view dtype) { return dtype == "fp8" ? DType::kFP8 : DType::kBF16; }

llm::Op op(std::string_view name, llm::OpBody body) {
  return llm::Op{name, 0, 0, llm::StreamKind::kCompute, std::move(body), {}};
}

llm::AttentionOp attention(llm::AttentionKernel kernel, const MeasuredShape& s, std::int32_t qk,
                           std::int32_t v, DType compute, DType kv) {
  llm::AttentionOp a;
  a.kernel = kernel;
  a.q_lens.assign(static_cast<std::size_t>(s.sequences), static_cast<std::int32_t>(s.q_len));
  a.kv_lens.assign(static_cast<std::size_t>(s.sequences), static_cast<std::int32_t>(s.kv_len));
  a.heads = static_cast<std::int32_t>(s.heads);
  a.kv_heads = static_cast<std::int32_t>(s.kv_heads);
  a.qk_dim = qk;
  a.v_dim = v;
  a.compute = compute;
  a.kv_type = kv;
  return a;
}

/// Tokens per local expert under the collectors' balanced routing (AIConfigurator
/// collector/helper.py balanced_logits): with stride = ceil(experts / topk), token i takes for
/// each slot j the expert (i + j stride) mod experts when tokens >= stride, else
/// (floor(i stride / tokens) + j stride) mod experts; the measured GPU is EP rank 0, which holds
/// experts 0 .. local - 1.
std::vector<std::int32_t> balanced_loads(std::int64_t tokens, std::int64_t experts,
                                         std::int64_t topk, std::int64_t local) {
  std::vector<std::int32_t> loads(static_cast<std::size_t>(local), 0);
  const std::int64_t stride = (experts + topk - 1) / topk;
  if (tokens < stride) {
    for (std::int64_t i = 0; i < tokens; ++i) {
      for (std::int64_t j = 0; j < topk; ++j) {
        const std::int64_t e = (i * stride / tokens + j * stride) % experts;
        if (e < local) ++loads[static_cast<std::size_t>(e)];
      }
    }
    return loads;
  }
  // Slot j sends the tokens to the consecutive experts j stride .. j stride + tokens - 1
  // (mod experts): tokens / experts rounds over all of them plus the first tokens % experts.
  for (std::int64_t e = 0; e < local; ++e) {
    std::int64_t n = 0;
    for (std::int64_t j = 0; j < topk; ++j) {
      const std::int64_t offset = ((e - j * stride) % experts + experts) % experts;
      n += tokens / experts + (offset < tokens % experts ? 1 : 0);
    }
    loads[static_cast<std::size_t>(e)] = static_cast<std::int32_t>(n);
  }
  return loads;
}

}  // namespace

Probe make_probe(const Measurement& m) {
  Probe p;
  const MeasuredShape& s = m.shape;
  switch (m.op) {
    case MeasuredOp::kGemm: {
      const GemmTypes t = gemm_types(m.dtype);
      p.ops.push_back(
          op("gemm", llm::GemmOp{s.m, s.n, s.k, 1, t.a, t.w, true, DType::kBF16, t.compute}));
      break;
    }
    case MeasuredOp::kBmm: {
      const DType t = attention_type(m.dtype);
      const llm::WeightFormat w =
          t == DType::kFP8 ? llm::WeightFormat::kFP8Block128 : llm::WeightFormat::kBF16;
      p.ops.push_back(
          op("attn.absorb", llm::GemmOp{s.m, s.n, s.k, s.batch, t, w, true, DType::kBF16, t}));
      break;
    }
    case MeasuredOp::kMoe: {
      const GemmTypes t = gemm_types(m.dtype);
      const std::int64_t local = s.experts / s.ep;
      std::vector<std::int32_t> loads = balanced_loads(s.tokens, s.experts, s.topk, local);
      std::int64_t rows = 0;
      for (const std::int32_t n : loads) rows += n;
      const std::int64_t inter = s.inter / s.tp;
      p.ops.push_back(
          op("moe.topk", llm::MemoryOp{Bytes{s.tokens * s.experts * kFp32Bytes},
                                       Bytes{s.tokens * s.topk * kTopkEntryBytes}, Flops{0.0}}));
      p.ops.push_back(op("moe.gate_up", llm::GroupedGemmOp{loads, 2 * inter, s.hidden, t.a, t.w,
                                                           DType::kBF16, t.compute}));
      p.ops.push_back(
          op("moe.act", llm::MemoryOp{Bytes{2 * rows * 2 * inter},
                                      llm::activation_bytes(rows, inter, t.a, t.w), Flops{0.0}}));
      p.ops.push_back(op("moe.down", llm::GroupedGemmOp{std::move(loads), s.hidden, inter, t.a, t.w,
                                                        DType::kBF16, t.compute}));
      break;
    }
    case MeasuredOp::kMlaDecode:
      p.ops.push_back(op("attn.decode",
                         attention(llm::AttentionKernel::kMlaAbsorbed, s, kKvLora + kRope, kKvLora,
                                   attention_type(m.dtype), attention_type(m.kv_dtype))));
      break;
    case MeasuredOp::kMlaPrefill:
      p.ops.push_back(
          op("attn.prefill", attention(llm::AttentionKernel::kMlaExpanded, s, kNope + kRope, kVHead,
                                       attention_type(m.kv_dtype), DType::kBF16)));
      break;
    case MeasuredOp::kGqaDecode:
    case MeasuredOp::kGqaPrefill: {
      const bool decode = m.op == MeasuredOp::kGqaDecode;
      const auto d = static_cast<std::int32_t>(s.head_dim);
      p.ops.push_back(op(decode ? "attn.decode" : "attn.prefill",
                         attention(llm::AttentionKernel::kMha, s, d, d, attention_type(m.dtype),
                                   attention_type(m.kv_dtype))));
      break;
    }
  }
  std::optional<FamilyKey> family;
  for (const llm::Op& o : p.ops) {
    if (!family) family = family_of(o.body);
  }
  MOESIM_ASSERT(family.has_value(), "every probe holds an op of a family");
  p.family = *family;
  return p;
}

}  // namespace moesim::cost
