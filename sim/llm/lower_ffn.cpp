#include <cstdint>
#include <string_view>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/llm/lower_detail.hpp"

namespace moesim::llm::detail {

namespace {

constexpr std::int64_t kFp32Bytes = 4;
constexpr std::int64_t kTopkEntryBytes = 8;  // int32 expert id + FP32 weight per choice

struct FfnNames {
  std::string_view gate_up;
  std::string_view act;
  std::string_view down;
};
constexpr FfnNames kDenseNames{"ffn.gate_up", "ffn.act", "ffn.down"};
constexpr FfnNames kSharedNames{"moe.shared_gate_up", "moe.shared_act", "moe.shared_down"};

/// SwiGLU between gate_up and down: reads the BF16 gate/up output, writes the down GEMM's input.
MemoryOp swiglu(std::int64_t rows, std::int64_t inter, const GemmPrecision& g) {
  return MemoryOp{bf16_bytes(rows * 2 * inter),
                  activation_bytes(rows, inter, g.activations, g.weights),
                  Flops{4.0 * static_cast<double>(rows * inter)}};
}

/// gate_up, act, down of a gated FFN on `rows` tokens with `inter` intermediate columns; the
/// first op depends on `deps`. Returns the index of down.
std::int32_t gated_ffn(OpList& ops, const LowerEnv& env, TensorClass cls, const FfnNames& names,
                       std::int32_t layer, std::int64_t rows, std::int64_t inter,
                       std::vector<std::int32_t> deps) {
  const ResolvedPrecision& p = env.precision;
  const std::int64_t h = env.model.hidden_size;
  const std::int32_t first =
      ops.add_after(names.gate_up, layer, StreamKind::kCompute,
                    weight_gemm(p, cls, rows, 2 * inter, h), std::move(deps));
  const std::int32_t act = ops.add_after(names.act, layer, StreamKind::kCompute,
                                         swiglu(rows, inter, p.of(cls)), {first});
  return ops.add_after(names.down, layer, StreamKind::kCompute, weight_gemm(p, cls, rows, h, inter),
                       {act});
}

CollectiveOp all_to_all(std::int32_t group, std::vector<Bytes> sends) {
  CollectiveOp c;
  c.kind = CollectiveKind::kAllToAllV;
  c.group = group;
  c.send_bytes = std::move(sends);
  return c;
}

/// A dense layer's FFN.
void lower_dense(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer) {
  const ParallelPlan& plan = env.plan;
  const std::int64_t h = env.model.hidden_size;
  const std::int64_t inter = env.model.dense_ffn->intermediate_size;
  const std::int64_t t = step.work->tokens;
  const TensorClass kCls = TensorClass::kDenseFfn;
  if (plan.dense_ffn == FfnLayout::kReplicated) {
    const std::int64_t rows = plan.token_shares() ? step.share : t;
    ops.set_frontier({gated_ffn(ops, env, kCls, kDenseNames, layer, rows, inter, ops.frontier())});
    return;
  }
  const std::int64_t shards = plan.stage_size();
  if (!plan.token_shares()) {
    ops.set_frontier(
        {gated_ffn(ops, env, kCls, kDenseNames, layer, t, inter / shards, ops.frontier())});
    if (plan.tp > 1) {
      ops.add("ffn.all_reduce", layer, StreamKind::kComm,
              collective(CollectiveKind::kAllReduce, step.groups.tp, bf16_bytes(t * h)));
    }
    return;
  }
  const Bytes gathered = bf16_bytes(step.stage_tokens * h);
  ops.add("ffn.all_gather_tokens", layer, StreamKind::kComm,
          collective(CollectiveKind::kAllGather, step.groups.stage, gathered));
  ops.set_frontier({gated_ffn(ops, env, kCls, kDenseNames, layer, step.stage_tokens, inter / shards,
                              ops.frontier())});
  ops.add("ffn.reduce_scatter", layer, StreamKind::kComm,
          collective(CollectiveKind::kReduceScatter, step.groups.stage, gathered));
}

/// An MoE layer's router, routed experts and shared experts.
void lower_moe(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer) {
  const ModelSpec& m = env.model;
  const MoeSpec& moe = *m.moe;
  const ParallelPlan& plan = env.plan;
  const ResolvedPrecision& p = env.precision;
  const std::int64_t h = m.hidden_size;
  const std::int64_t t = step.work->tokens;
  const bool shares = plan.token_shares();
  const std::int64_t x = shares ? step.share : t;
  const std::int64_t stage = plan.stage_size();
  const std::int64_t shared_inter = moe.shared_intermediate_size * moe.num_shared_experts;
  const bool has_shared = shared_inter > 0;
  const bool shared_sharded = has_shared && plan.shared_expert == FfnLayout::kSharded;
  const std::int32_t me = step.coord.index;

  MOESIM_ASSERT(step.loads != nullptr, "an MoE layer has its loads");
  const MoeLayerLoads& loads = *(*step.loads)[static_cast<std::size_t>(layer - step.first_layer)];
  const std::size_t ep = static_cast<std::size_t>(plan.ep);
  MOESIM_ASSERT(loads.tokens_per_slot.size() == ep && loads.dispatch_tokens.size() == ep,
                "loads cover every EP rank");
  const std::vector<std::int32_t>& slots = loads.tokens_per_slot[plan.ep == 1 ? 0 : me];
  MOESIM_ASSERT(static_cast<std::int64_t>(slots.size()) ==
                    (plan.ep == 1 ? moe.num_experts : plan.slots_per_rank(moe)),
                "loads give every local expert slot");

  const std::vector<std::int32_t> pre = ops.frontier();
  const Bytes gathered = bf16_bytes(step.stage_tokens * h);
  std::int32_t gather = -1;
  const bool need_gather = shares && (plan.ep == 1 || shared_sharded);
  if (need_gather) {
    gather =
        ops.add_after("moe.all_gather_tokens", layer, StreamKind::kComm,
                      collective(CollectiveKind::kAllGather, step.groups.stage, gathered), pre);
  }
  // Rows the routed experts' router sees: the gathered stage (ep 1 under token shares), the
  // replica's tokens (pure TP) or this rank's share (EP).
  const std::int64_t router_rows = plan.ep == 1 ? (shares ? step.stage_tokens : t) : x;
  const std::vector<std::int32_t> router_deps =
      plan.ep == 1 && shares ? std::vector<std::int32_t>{gather} : pre;
  const std::int32_t router = ops.add_after(
      "moe.router", layer, StreamKind::kCompute,
      weight_gemm(p, TensorClass::kRouter, router_rows, moe.num_experts, h), router_deps);
  const std::int32_t topk =
      ops.add_after("moe.topk", layer, StreamKind::kCompute,
                    MemoryOp{Bytes{router_rows * moe.num_experts * kFp32Bytes},
                             Bytes{router_rows * moe.experts_per_token * kTopkEntryBytes},
                             Flops{2.0 * static_cast<double>(router_rows * moe.num_experts)}},
                    {router});

  // Copies each pair of EP ranks exchanges: tokens once per destination rank (the loads'
  // dispatch_tokens), or once per (token, expert) pair under the per-token-expert layout
  // (to_pair_copies; the whole matrix is built only then, since a column's scale needs it).
  const bool per_pair = plan.ep > 1 && env.dispatch_layout == DispatchLayout::kPerTokenExpert;
  const std::vector<std::int64_t> pair_copies =
      per_pair ? dispatch_copies(loads, DispatchLayout::kPerTokenExpert)
               : std::vector<std::int64_t>{};
  auto copies_of = [&](std::size_t src, std::size_t dst) -> std::int64_t {
    return per_pair ? pair_copies[src * ep + dst] : loads.dispatch_tokens[src][dst];
  };

  std::int32_t dispatch = -1;
  if (plan.ep > 1) {
    const Bytes payload = payload_bytes_per_token(h, p.dispatch);
    std::vector<Bytes> sends;
    for (std::size_t dst = 0; dst < ep; ++dst) {
      sends.push_back(payload * copies_of(static_cast<std::size_t>(me), dst));
    }
    dispatch = ops.add_after("moe.dispatch", layer, StreamKind::kComm,
                             all_to_all(step.groups.ep, std::move(sends)), {topk});
  }

  std::vector<std::int32_t> outputs;  // what the next layer waits for
  std::int32_t shared_down = -1;
  if (has_shared) {
    if (shared_sharded) {
      const std::int64_t rows = shares ? step.stage_tokens : t;
      shared_down =
          gated_ffn(ops, env, TensorClass::kSharedExperts, kSharedNames, layer, rows,
                    shared_inter / stage, shares ? std::vector<std::int32_t>{gather} : pre);
    } else {
      shared_down = gated_ffn(ops, env, TensorClass::kSharedExperts, kSharedNames, layer,
                              shares ? x : t, shared_inter, pre);
    }
  }

  const std::int64_t inter = moe.expert.intermediate_size / plan.moe_tp();
  const GemmPrecision& g = p.of(TensorClass::kRoutedExperts);
  // Pairs entering this rank's module: the router's rows (ep 1) or the rows dispatched here,
  // each with its top-k slots (a copy per destination rank), or one pair per copy under the
  // per-token-expert layout.
  std::int64_t routes_in = router_rows * moe.experts_per_token;
  if (plan.ep > 1) {
    std::int64_t received = 0;
    for (std::size_t src = 0; src < ep; ++src)
      received += copies_of(src, static_cast<std::size_t>(me));
    routes_in = per_pair ? received : received * moe.experts_per_token;
  }
  GroupedGemmOp gate_up{slots, 2 * inter, h, g.activations, g.weights, g.out, g.compute, routes_in};
  GroupedGemmOp down{slots, h, inter, g.activations, g.weights, g.out, g.compute, 0};
  std::int64_t routed_rows = 0;
  for (const std::int32_t n : slots) routed_rows += n;
  const std::int32_t first = ops.add_after("moe.gate_up", layer, StreamKind::kCompute,
                                           std::move(gate_up), {plan.ep > 1 ? dispatch : topk});
  const std::int32_t act =
      ops.add_after("moe.act", layer, StreamKind::kCompute, swiglu(routed_rows, inter, g), {first});
  const std::int32_t routed_down =
      ops.add_after("moe.down", layer, StreamKind::kCompute, std::move(down), {act});

  if (plan.ep > 1) {
    const Bytes payload = payload_bytes_per_token(h, p.combine);
    std::vector<Bytes> sends;
    for (std::size_t src = 0; src < ep; ++src) {
      sends.push_back(payload * copies_of(src, static_cast<std::size_t>(me)));
    }
    outputs.push_back(ops.add_after("moe.combine", layer, StreamKind::kComm,
                                    all_to_all(step.groups.ep, std::move(sends)), {routed_down}));
    if (shared_sharded && shares) {
      outputs.push_back(ops.add_after(
          "moe.shared_reduce_scatter", layer, StreamKind::kComm,
          collective(CollectiveKind::kReduceScatter, step.groups.stage, gathered), {shared_down}));
    } else if (shared_down >= 0) {
      outputs.push_back(shared_down);
    }
    ops.set_frontier(std::move(outputs));
    return;
  }

  // Tensor-sharded experts: partial sums reduce over the stage (token shares) or the TP group.
  std::vector<std::int32_t> partial = {routed_down};
  if (shared_sharded) partial.push_back(shared_down);
  if (shares) {
    outputs.push_back(ops.add_after(
        "moe.reduce_scatter", layer, StreamKind::kComm,
        collective(CollectiveKind::kReduceScatter, step.groups.stage, gathered), partial));
  } else if (plan.tp > 1) {
    outputs.push_back(ops.add_after(
        "moe.all_reduce", layer, StreamKind::kComm,
        collective(CollectiveKind::kAllReduce, step.groups.tp, bf16_bytes(t * h)), partial));
  } else {
    outputs = partial;
  }
  if (has_shared && !shared_sharded) outputs.push_back(shared_down);
  ops.set_frontier(std::move(outputs));
}

}  // namespace

void lower_ffn(OpList& ops, const LowerEnv& env, const RankStep& step, std::int32_t layer) {
  const ParallelPlan& plan = env.plan;
  const std::int64_t h = env.model.hidden_size;
  const std::int64_t t = step.work->tokens;
  const std::int64_t x = plan.token_shares() ? step.share : t;
  ops.add("ffn.post_attention_norm", layer, StreamKind::kCompute, rms_norm(x, h, true));
  if (env.model.layers[static_cast<std::size_t>(layer)].moe) {
    lower_moe(ops, env, step, layer);
  } else {
    lower_dense(ops, env, step, layer);
  }
  if (plan.token_shares() && plan.tp > 1) {
    ops.add("ffn.all_gather", layer, StreamKind::kComm,
            collective(CollectiveKind::kAllGather, step.groups.tp, bf16_bytes(t * h)));
  }
}

}  // namespace moesim::llm::detail
