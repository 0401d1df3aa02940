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
constexpr std::int64_t kTopkIdBytes = 4;     // int32 expert id
constexpr std::int64_t kBf16Bytes = 2;
// DeepGEMM's M block of the contiguous grouped layout (get_m_alignment_for_contiguous_layout).
constexpr std::int64_t kContiguousBlockM = 128;
// The kernel label of the DeepEP normal-mode (contiguous) table (measurement.hpp).
constexpr std::string_view kDeepEpContiguous = "moe_context/";

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

/// Tokens per local expert when the collectors' balanced logits pass a group-limited router
/// (shape groups > 0; kernel_probe.hpp). Token i's balanced logits mark the experts of
/// balanced_loads (softmax of how many of its slots hit each expert, so a marked expert scores
/// above an unmarked one and equal marks tie). The router scores each group by the sum of its
/// two best experts and keeps the best topk_groups groups, ties to the lower group; it then
/// takes the topk best experts of the kept groups, ties to the lower expert (SGLang
/// sgl-kernel moe_fused_gate.cu: groups are dropped worst first, "higher indices win" a tie
/// for the drop; experts are taken best first, "lower indices to win"). A token's marks
/// depend only on i mod experts (tokens >= stride), so tokens are priced per residue.
std::vector<std::int32_t> group_limited_loads(const MeasuredShape& s, std::int64_t local) {
  const std::int64_t experts = s.experts;
  const std::int64_t stride = (experts + s.topk - 1) / s.topk;
  const std::int64_t per_group = experts / s.groups;
  MOESIM_ASSERT(per_group > 0 && per_group * s.groups == experts && s.topk_groups <= s.groups,
                "groups divide the experts and topk_groups <= groups (measurement.cpp check)");
  const bool few = s.tokens < stride;
  const std::int64_t classes = few ? s.tokens : std::min(s.tokens, experts);
  std::vector<std::int64_t> loads(static_cast<std::size_t>(local), 0);
  std::vector<std::int32_t> marks(static_cast<std::size_t>(experts));
  std::vector<std::int32_t> group_score(static_cast<std::size_t>(s.groups));
  std::vector<bool> kept(static_cast<std::size_t>(s.groups));
  for (std::int64_t c = 0; c < classes; ++c) {
    const std::int64_t tokens = few ? 1 : s.tokens / experts + (c < s.tokens % experts ? 1 : 0);
    std::fill(marks.begin(), marks.end(), 0);
    for (std::int64_t j = 0; j < s.topk; ++j) {
      const std::int64_t base = few ? c * stride / s.tokens : c;
      ++marks[static_cast<std::size_t>((base + j * stride) % experts)];
    }
    std::int32_t best_mark = 0;
    for (std::int64_t g = 0; g < s.groups; ++g) {
      std::int32_t first = 0;
      std::int32_t second = 0;
      for (std::int64_t e = g * per_group; e < (g + 1) * per_group; ++e) {
        const std::int32_t v = marks[static_cast<std::size_t>(e)];
        best_mark = std::max(best_mark, v);
        if (v > first) {
          second = first;
          first = v;
        } else if (v > second) {
          second = v;
        }
      }
      group_score[static_cast<std::size_t>(g)] = first + second;
      kept[static_cast<std::size_t>(g)] = false;
    }
    // Keep the best topk_groups groups, the lower group first among equals.
    for (std::int64_t n = 0; n < s.topk_groups; ++n) {
      std::int64_t best = -1;
      for (std::int64_t g = 0; g < s.groups; ++g) {
        const auto gi = static_cast<std::size_t>(g);
        if (!kept[gi] &&
            (best < 0 || group_score[gi] > group_score[static_cast<std::size_t>(best)])) {
          best = g;
        }
      }
      kept[static_cast<std::size_t>(best)] = true;
    }
    // Take the topk best experts of the kept groups, the lower expert first among equals.
    std::int64_t taken = 0;
    for (std::int32_t mark = best_mark; mark >= 0 && taken < s.topk; --mark) {
      for (std::int64_t e = 0; e < experts && taken < s.topk; ++e) {
        if (!kept[static_cast<std::size_t>(e / per_group)] ||
            marks[static_cast<std::size_t>(e)] != mark) {
          continue;
        }
        ++taken;
        if (e < local) loads[static_cast<std::size_t>(e)] += tokens;
      }
    }
  }
  std::vector<std::int32_t> out(loads.size());
  std::transform(loads.begin(), loads.end(), out.begin(),
                 [](std::int64_t n) { return static_cast<std::int32_t>(n); });
  return out;
}

/// The DeepEP collector's "uniform" loads (AIConfigurator collector/wideep/sglang/
/// collect_deepep_moe.py; kernel_probe.hpp): every local expert gets floor(tokens topk /
/// experts) rows; in the low-latency (masked) table, when that is 0, the first
/// min(local, tokens / ep x topk) experts get one row each.
std::vector<std::int32_t> deepep_loads(const MeasuredShape& s, bool masked) {
  const std::int64_t local = s.experts / s.ep;
  const std::int64_t each = s.tokens * s.topk / s.experts;
  std::vector<std::int32_t> loads(static_cast<std::size_t>(local), static_cast<std::int32_t>(each));
  if (masked && each == 0) {
    const std::int64_t ones = std::min(local, s.tokens / s.ep * s.topk);
    std::fill_n(loads.begin(), ones, 1);
  }
  return loads;
}

/// Rows per expert weight matrix of a DeepGEMM contiguous grouped GEMM over `loads` laid out
/// expert after expert: the GEMM runs ceil(sum / kContiguousBlockM) blocks of
/// kContiguousBlockM rows and each block multiplies by the weights of the expert that owns its
/// first row, so a block's rows count for that expert.
std::vector<std::int32_t> contiguous_blocks(const std::vector<std::int32_t>& loads) {
  std::vector<std::int32_t> owner_rows(loads.size(), 0);
  std::int64_t total = 0;
  for (const std::int32_t n : loads) total += n;
  std::size_t expert = 0;
  std::int64_t segment_end = loads.empty() ? 0 : loads[0];
  for (std::int64_t start = 0; start < total; start += kContiguousBlockM) {
    while (start >= segment_end) segment_end += loads[++expert];
    owner_rows[expert] += static_cast<std::int32_t>(std::min(kContiguousBlockM, total - start));
  }
  return owner_rows;
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
      const bool deepep = m.distribution == "uniform";
      const bool contiguous = deepep && m.kernel.starts_with(kDeepEpContiguous);
      std::vector<std::int32_t> loads = deepep ? deepep_loads(s, !contiguous)
                                        : s.groups > 0
                                            ? group_limited_loads(s, local)
                                            : balanced_loads(s.tokens, s.experts, s.topk, local);
      std::int64_t rows = 0;
      for (const std::int32_t n : loads) rows += n;
      const std::int64_t inter = s.inter / s.tp;
      const llm::MemoryOp act{Bytes{2 * rows * 2 * inter},
                              llm::activation_bytes(rows, inter, t.a, t.w), Flops{0.0}};
      if (!deepep) {
        p.ops.push_back(
            op("moe.topk", llm::MemoryOp{Bytes{s.tokens * s.experts * kFp32Bytes},
                                         Bytes{s.tokens * s.topk * kTopkEntryBytes}, Flops{0.0}}));
      }
      if (contiguous) {
        // ep_scatter walks the top-k ids of every dispatched token and copies the routed rows
        // (FP8 and their scales) into the contiguous layout; ep_gather writes the BF16 output
        // of every dispatched token, weighting the routed rows it reads.
        const Bytes routed = llm::activation_bytes(rows, s.hidden, t.a, t.w);
        const Bytes ids{s.tokens * s.topk * kTopkIdBytes};
        p.ops.push_back(op("moe.scatter", llm::MemoryOp{routed + ids, routed, Flops{0.0}}));
        loads = contiguous_blocks(loads);
      }
      // Every token the collector feeds enters the module with its top-k slots.
      p.ops.push_back(
          op("moe.gate_up", llm::GroupedGemmOp{loads, 2 * inter, s.hidden, t.a, t.w, DType::kBF16,
                                               t.compute, s.tokens * s.topk}));
      p.ops.push_back(op("moe.act", act));
      p.ops.push_back(op("moe.down", llm::GroupedGemmOp{std::move(loads), s.hidden, inter, t.a, t.w,
                                                        DType::kBF16, t.compute, 0}));
      if (contiguous) {
        const Bytes out{s.tokens * s.hidden * kBf16Bytes};
        const Bytes read{rows * s.hidden * kBf16Bytes + s.tokens * s.topk * kTopkEntryBytes};
        p.ops.push_back(op("moe.gather", llm::MemoryOp{read, out, Flops{0.0}}));
      }
      break;
    }
    case MeasuredOp::kMlaDecode:
      p.ops.push_back(op("attn.decode",
                         attention(llm::AttentionKernel::kMlaAbsorbed, s, kKvLora + kRope, kKvLora,
                                   attention_type(m.dtype), attention_type(m.kv_dtype))));
      break;
    case MeasuredOp::kMlaPrefill: {
      // Expanded K/V: kv_b_proj writes one K/V head per query head (lower_attention.cpp), so
      // the kernel reads heads K/V heads and launches a block per (sequence, head, q tile).
      llm::AttentionOp a = attention(llm::AttentionKernel::kMlaExpanded, s, kNope + kRope, kVHead,
                                     attention_type(m.kv_dtype), DType::kBF16);
      a.kv_heads = a.heads;
      p.ops.push_back(op("attn.prefill", std::move(a)));
      break;
    }
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
