#include "sim/llm/step_plan.hpp"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "sim/core/assert.hpp"
#include "sim/llm/param_count.hpp"

namespace moesim::llm {

namespace {

constexpr auto kBitsPerByte = static_cast<std::int64_t>(scale::kBitsPerByte);
constexpr std::int64_t kFp32Bytes = 4;
constexpr std::int64_t kFp8GroupSize = 128;   // DeepGEMM 1 x 128 activation scale groups
constexpr std::int64_t kNvfp4BlockSize = 16;  // NVFP4: one E4M3 scale per 16 values
constexpr std::int64_t kMxfp4BlockSize = 32;  // MXFP4: one E8M0 scale per 32 values

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

/// Whole bytes of `values` elements of `bits` bits, rounded up once.
std::int64_t packed_bytes(std::int64_t values, int bits) {
  return ceil_div(values * bits, kBitsPerByte);
}

/// Sum over the first n positions (0-based) of the keys each position sees:
/// full: sum (p+1); sliding W: sum min(p+1, W); chunked W: sum ((p mod W) + 1).
std::int64_t cumulative_pairs(std::int64_t n, std::int64_t window, bool chunked) {
  if (n <= 0) return 0;
  if (window <= 0) return n * (n + 1) / 2;
  if (chunked) {
    const std::int64_t full_chunks = n / window;
    const std::int64_t rest = n % window;
    return full_chunks * (window * (window + 1) / 2) + rest * (rest + 1) / 2;
  }
  if (n <= window) return n * (n + 1) / 2;
  return window * (window + 1) / 2 + (n - window) * window;
}

Bytes gemm_bytes(const GemmOp& g) {
  if (g.m == 0) return Bytes{0};
  const Bytes a = activation_bytes(g.m, g.k, g.a_type, g.b_format);
  const Bytes b = g.b_is_weight ? tensor_bytes(g.n, g.k, g.b_format).total()
                                : Bytes{packed_bytes(g.k * g.n, bits_of(element_type(g.b_format)))};
  const Bytes out{packed_bytes(g.m * g.n, bits_of(g.out_type))};
  return (a + b + out) * g.batch;
}

Bytes grouped_bytes(const GroupedGemmOp& g) {
  Bytes total{0};
  const Bytes weights = tensor_bytes(g.n, g.k, g.b_format).total();
  for (const std::int32_t t : g.tokens_per_expert) {
    if (t <= 0) continue;
    total += activation_bytes(t, g.k, g.a_type, g.b_format) + weights +
             Bytes{packed_bytes(std::int64_t{t} * g.n, bits_of(g.out_type))};
  }
  return total;
}

Bytes attention_bytes(const AttentionOp& a) {
  const std::int64_t width =
      a.kernel == AttentionKernel::kMlaAbsorbed ? a.qk_dim : std::int64_t{a.qk_dim} + a.v_dim;
  const std::int64_t q = a.total_q();
  const std::int64_t kv =
      packed_bytes(std::int64_t{a.kv_heads} * a.total_keys() * width, bits_of(a.kv_type));
  const std::int64_t q_read =
      packed_bytes(std::int64_t{a.heads} * q * a.qk_dim, bits_of(a.compute));
  const std::int64_t out = packed_bytes(std::int64_t{a.heads} * q * a.v_dim, bits_of(a.out_type));
  return Bytes{kv + q_read + out};
}

}  // namespace

DType element_type(WeightFormat f) {
  switch (f) {
    case WeightFormat::kBF16: return DType::kBF16;
    case WeightFormat::kFP16: return DType::kFP16;
    case WeightFormat::kFP32: return DType::kFP32;
    case WeightFormat::kFP8Tensor:
    case WeightFormat::kFP8Block128: return DType::kFP8;
    case WeightFormat::kNVFP4:
    case WeightFormat::kMXFP4: return DType::kFP4;
  }
  MOESIM_ASSERT(false, "unhandled weight format");
  return DType::kBF16;
}

Bytes activation_bytes(std::int64_t rows, std::int64_t cols, DType a, WeightFormat paired) {
  MOESIM_ASSERT(rows >= 0 && cols >= 0, "an activation has a non-negative shape");
  if (rows == 0 || cols == 0) return Bytes{0};
  switch (a) {
    case DType::kFP8: {
      const std::int64_t scales = paired == WeightFormat::kFP8Block128
                                      ? kFp32Bytes * rows * ceil_div(cols, kFp8GroupSize)
                                      : kFp32Bytes;
      return Bytes{rows * cols + scales};
    }
    case DType::kFP4: {
      const std::int64_t scales = paired == WeightFormat::kMXFP4
                                      ? rows * ceil_div(cols, kMxfp4BlockSize)
                                      : rows * ceil_div(cols, kNvfp4BlockSize) + kFp32Bytes;
      return Bytes{rows * ceil_div(cols, 2) + scales};
    }
    default: return Bytes{packed_bytes(rows * cols, bits_of(a))};
  }
}

std::int64_t visible_pairs(std::int64_t q_len, std::int64_t kv_len, std::int64_t window,
                           bool chunked) {
  MOESIM_ASSERT(q_len >= 0 && q_len <= kv_len, "0 <= q_len <= kv_len");
  return cumulative_pairs(kv_len, window, chunked) -
         cumulative_pairs(kv_len - q_len, window, chunked);
}

std::int64_t visible_keys(std::int64_t q_len, std::int64_t kv_len, std::int64_t window,
                          bool chunked) {
  MOESIM_ASSERT(q_len >= 0 && q_len <= kv_len, "0 <= q_len <= kv_len");
  if (q_len == 0) return 0;
  if (window <= 0) return kv_len;
  if (chunked) return kv_len - ((kv_len - q_len) / window) * window;
  return std::min(kv_len, q_len + window - 1);
}

std::int64_t GroupedGemmOp::total_tokens() const {
  std::int64_t sum = 0;
  for (const std::int32_t t : tokens_per_expert) sum += t;
  return sum;
}

std::int32_t GroupedGemmOp::active_experts() const {
  return static_cast<std::int32_t>(std::count_if(tokens_per_expert.begin(), tokens_per_expert.end(),
                                                 [](std::int32_t t) { return t > 0; }));
}

std::int64_t AttentionOp::total_q() const {
  std::int64_t n = 0;
  for (const std::int32_t q : q_lens) n += q;
  return n;
}

std::int64_t AttentionOp::total_pairs() const {
  MOESIM_ASSERT(q_lens.size() == kv_lens.size(), "one kv length per sequence");
  std::int64_t n = 0;
  for (std::size_t s = 0; s < q_lens.size(); ++s) {
    n += visible_pairs(q_lens[s], kv_lens[s], window, chunked);
  }
  return n;
}

std::int64_t AttentionOp::total_keys() const {
  MOESIM_ASSERT(q_lens.size() == kv_lens.size(), "one kv length per sequence");
  std::int64_t n = 0;
  for (std::size_t s = 0; s < q_lens.size(); ++s) {
    n += visible_keys(q_lens[s], kv_lens[s], window, chunked);
  }
  return n;
}

Flops Op::flops() const {
  return std::visit(
      [](const auto& b) -> Flops {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, GemmOp>) {
          return Flops{2.0 * static_cast<double>(b.m) * static_cast<double>(b.n) *
                       static_cast<double>(b.k) * static_cast<double>(b.batch)};
        } else if constexpr (std::is_same_v<T, GroupedGemmOp>) {
          return Flops{2.0 * static_cast<double>(b.n) * static_cast<double>(b.k) *
                       static_cast<double>(b.total_tokens())};
        } else if constexpr (std::is_same_v<T, AttentionOp>) {
          return Flops{2.0 * static_cast<double>(b.heads) *
                       static_cast<double>(std::int64_t{b.qk_dim} + b.v_dim) *
                       static_cast<double>(b.total_pairs())};
        } else if constexpr (std::is_same_v<T, MemoryOp>) {
          return b.flops;
        } else {
          return Flops{0.0};
        }
      },
      body);
}

Bytes Op::min_bytes() const {
  return std::visit(
      [](const auto& b) -> Bytes {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, GemmOp>) {
          return gemm_bytes(b);
        } else if constexpr (std::is_same_v<T, GroupedGemmOp>) {
          return grouped_bytes(b);
        } else if constexpr (std::is_same_v<T, AttentionOp>) {
          return attention_bytes(b);
        } else if constexpr (std::is_same_v<T, MemoryOp>) {
          return b.read + b.written;
        } else {
          return Bytes{0};
        }
      },
      body);
}

Bytes Op::weight_bytes() const {
  if (const auto* g = std::get_if<GemmOp>(&body)) {
    if (!g->b_is_weight || g->m == 0) return Bytes{0};
    return tensor_bytes(g->n, g->k, g->b_format).total() * g->batch;
  }
  if (const auto* g = std::get_if<GroupedGemmOp>(&body)) {
    return tensor_bytes(g->n, g->k, g->b_format).total() * std::int64_t{g->active_experts()};
  }
  return Bytes{0};
}

Flops RankPlan::flops() const {
  Flops f{0.0};
  for (const Op& op : ops) f += op.flops();
  return f;
}

Bytes RankPlan::min_bytes() const {
  Bytes b{0};
  for (const Op& op : ops) b += op.min_bytes();
  return b;
}

Bytes RankPlan::weight_bytes() const {
  Bytes b{0};
  for (const Op& op : ops) b += op.weight_bytes();
  return b;
}

std::int32_t CommGroup::index_of(std::int32_t rank) const {
  const auto it = std::find(ranks.begin(), ranks.end(), rank);
  return it == ranks.end() ? -1 : static_cast<std::int32_t>(it - ranks.begin());
}

}  // namespace moesim::llm
