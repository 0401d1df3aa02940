#include "sim/llm/lowering.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/lower_detail.hpp"

namespace moesim::llm {

// ---- SequenceWork, StepBatch ----

SequenceWork SequenceWork::decode(std::int32_t context, std::int32_t tokens) {
  return SequenceWork{tokens, context, false, tokens};
}

SequenceWork SequenceWork::prefill_chunk(std::int32_t chunk, std::int32_t prefix, bool last_chunk) {
  return SequenceWork{chunk, prefix + chunk, true, last_chunk ? 1 : 0};
}

StepBatch StepBatch::same_on_every_replica(std::int32_t replicas,
                                           const std::vector<SequenceWork>& sequences) {
  StepBatch b;
  b.replicas.assign(static_cast<std::size_t>(replicas), sequences);
  return b;
}

StepPhase StepBatch::phase() const {
  bool any_prefill = false;
  bool any_decode = false;
  for (const auto& r : replicas) {
    for (const SequenceWork& s : r) (s.prefill ? any_prefill : any_decode) = true;
  }
  if (any_prefill && any_decode) return StepPhase::kMixed;
  return any_prefill ? StepPhase::kPrefill : StepPhase::kDecode;
}

std::int64_t StepBatch::tokens() const {
  std::int64_t n = 0;
  for (const auto& r : replicas) {
    for (const SequenceWork& s : r) n += s.q_len;
  }
  return n;
}

namespace detail {

// ---- helpers shared by the lowering files ----

MemoryOp rms_norm(std::int64_t rows, std::int64_t width, bool residual) {
  const std::int64_t streams = residual ? 2 : 1;  // x (and the residual)
  return MemoryOp{bf16_bytes(streams * rows * width + width), bf16_bytes(streams * rows * width),
                  Flops{(residual ? 5.0 : 4.0) * static_cast<double>(rows * width)}};
}

GemmOp weight_gemm(const ResolvedPrecision& p, TensorClass cls, std::int64_t m, std::int64_t n,
                   std::int64_t k, std::int64_t batch) {
  const GemmPrecision& g = p.of(cls);
  GemmOp op;
  op.m = m;
  op.n = n;
  op.k = k;
  op.batch = batch;
  op.a_type = g.activations;
  op.b_format = g.weights;
  op.b_is_weight = true;
  op.out_type = g.out;
  op.compute = g.compute;
  return op;
}

CollectiveOp collective(CollectiveKind kind, std::int32_t group, Bytes bytes) {
  MOESIM_ASSERT(group >= 0, "a collective names its communicator");
  CollectiveOp c;
  c.kind = kind;
  c.group = group;
  c.bytes = bytes;
  return c;
}

std::int32_t OpList::add(std::string_view name, std::int32_t layer, StreamKind stream,
                         OpBody body) {
  const std::int32_t i = add_after(name, layer, stream, std::move(body), frontier_);
  frontier_ = {i};
  return i;
}

std::int32_t OpList::add_after(std::string_view name, std::int32_t layer, StreamKind stream,
                               OpBody body, std::vector<std::int32_t> deps) {
  if (have_stream_ && stream != stream_) ++stretch_;
  have_stream_ = true;
  stream_ = stream;
  deps.erase(std::remove(deps.begin(), deps.end(), -1), deps.end());
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  ops_.push_back(Op{name, layer, micro_batch_, stream, std::move(body), std::move(deps)});
  keys_.push_back((std::int64_t{position_} << 32) | stretch_);
  return static_cast<std::int32_t>(ops_.size()) - 1;
}

std::vector<MicroBatchWork> split_micro_batches(const std::vector<SequenceWork>& seqs,
                                                std::int32_t n) {
  const auto finish = [](std::vector<SequenceWork> s) {
    MicroBatchWork w;
    w.seqs = std::move(s);
    for (const SequenceWork& q : w.seqs) {
      w.tokens += q.q_len;
      w.logits += q.logits;
    }
    return w;
  };
  if (n == 1) return {finish(seqs)};
  MOESIM_ASSERT(n == 2, "one or two micro-batches");
  if (seqs.size() == 1 && seqs[0].q_len >= 2) {
    // One sequence: its first half of new tokens, then the rest (logits stay at the end).
    const SequenceWork& s = seqs[0];
    const std::int32_t q0 = s.q_len / 2;
    const std::int32_t q1 = s.q_len - q0;
    const std::int32_t logits1 = std::min(s.logits, q1);
    return {finish({SequenceWork{q0, s.kv_len - q1, s.prefill, s.logits - logits1}}),
            finish({SequenceWork{q1, s.kv_len, s.prefill, logits1}})};
  }
  std::int64_t total = 0;
  for (const SequenceWork& s : seqs) total += s.q_len;
  std::size_t best = seqs.size() / 2;
  std::int64_t best_gap = -1;
  std::int64_t prefix = 0;
  for (std::size_t i = 0; i <= seqs.size(); ++i) {
    const std::int64_t gap = std::abs(total - 2 * prefix);
    if (i > 0 && i < seqs.size() && (best_gap < 0 || gap < best_gap)) {
      best_gap = gap;
      best = i;
    }
    if (i < seqs.size()) prefix += seqs[i].q_len;
  }
  const auto mid = seqs.begin() + static_cast<std::ptrdiff_t>(best);
  return {finish({seqs.begin(), mid}), finish({mid, seqs.end()})};
}

}  // namespace detail

namespace {

using detail::bf16_bytes;
using detail::collective;
using detail::LowerEnv;
using detail::MicroBatchWork;
using detail::OpList;
using detail::RankGroups;
using detail::RankStep;

/// The communicators of a plan: one TP group per replica, one EP and one stage group per
/// stage, one PP group per stage index.
struct PlanGroups {
  std::vector<CommGroup> all;
  std::vector<std::int32_t> tp;     // [stage x attention_dp + dp]
  std::vector<std::int32_t> ep;     // [stage]
  std::vector<std::int32_t> stage;  // [stage]
  std::vector<std::int32_t> pp;     // [stage index]

  RankGroups of(const ParallelPlan& plan, const RankCoord& c) const {
    const auto at = [](const std::vector<std::int32_t>& v, std::int32_t i) {
      return v.empty() ? -1 : v[static_cast<std::size_t>(i)];
    };
    return RankGroups{at(tp, c.stage * plan.attention_dp + c.dp), at(ep, c.stage),
                      at(stage, c.stage), at(pp, c.index)};
  }
};

PlanGroups make_groups(const ParallelPlan& plan, bool moe) {
  PlanGroups g;
  const auto add = [&](std::string_view name, std::vector<std::int32_t> ranks) {
    g.all.push_back(CommGroup{name, std::move(ranks)});
    return static_cast<std::int32_t>(g.all.size()) - 1;
  };
  const std::int32_t size = plan.stage_size();
  for (std::int32_t s = 0; s < plan.pp; ++s) {
    if (plan.tp > 1) {
      for (std::int32_t dp = 0; dp < plan.attention_dp; ++dp) {
        std::vector<std::int32_t> ranks;
        for (std::int32_t t = 0; t < plan.tp; ++t) ranks.push_back(plan.rank_of(s, dp, t));
        g.tp.push_back(add("tp", std::move(ranks)));
      }
    }
    std::vector<std::int32_t> stage(static_cast<std::size_t>(size));
    std::iota(stage.begin(), stage.end(), s * size);
    if (plan.ep > 1 && moe) g.ep.push_back(add("ep", stage));
    if (plan.token_shares() && size > 1) g.stage.push_back(add("stage", stage));
  }
  if (plan.pp > 1) {
    for (std::int32_t i = 0; i < size; ++i) {
      std::vector<std::int32_t> ranks;
      for (std::int32_t s = 0; s < plan.pp; ++s) ranks.push_back(s * size + i);
      g.pp.push_back(add("pp", std::move(ranks)));
    }
  }
  return g;
}

void lower_embedding(OpList& ops, const LowerEnv& env, const RankStep& step) {
  const ModelSpec& m = env.model;
  const std::int64_t t = step.work->tokens;
  const std::int64_t h = m.hidden_size;
  const DType table = element_type(env.precision.of(TensorClass::kEmbedding).weights);
  ops.add("embed.gather", -1, StreamKind::kCompute,
          MemoryOp{Bytes{(t * h * bits_of(table) + 7) / 8}, bf16_bytes(t * h), Flops{0.0}});
  if (env.plan.tp > 1) {
    ops.add("embed.all_reduce", -1, StreamKind::kComm,
            collective(CollectiveKind::kAllReduce, step.groups.tp, bf16_bytes(t * h)));
  }
}

void lower_head(OpList& ops, const LowerEnv& env, const RankStep& step) {
  const ModelSpec& m = env.model;
  const ParallelPlan& plan = env.plan;
  const std::int64_t h = m.hidden_size;
  const std::int64_t logits = step.work->logits;
  const std::int64_t vocab_local = (m.vocab_size + plan.tp - 1) / plan.tp;
  const std::int64_t vocab_padded = vocab_local * plan.tp;
  const TensorClass head =
      m.tie_word_embeddings ? TensorClass::kEmbedding : TensorClass::kOutputHead;
  ops.add("head.final_norm", -1, StreamKind::kCompute,
          detail::rms_norm(step.work->tokens, h, true));
  ops.add("head.lm_head", -1, StreamKind::kCompute,
          detail::weight_gemm(env.precision, head, logits, vocab_local, h));
  if (plan.tp > 1) {
    ops.add(
        "head.all_gather_logits", -1, StreamKind::kComm,
        collective(CollectiveKind::kAllGather, step.groups.tp, bf16_bytes(logits * vocab_padded)));
  }
  constexpr std::int64_t kTokenIdBytes = 4;
  ops.add("head.sample", -1, StreamKind::kCompute,
          MemoryOp{bf16_bytes(logits * vocab_padded), Bytes{logits * kTokenIdBytes},
                   Flops{4.0 * static_cast<double>(logits * vocab_padded)}});
}

CollectiveOp pp_transfer(std::int32_t group, std::int32_t peer, bool recv, Bytes bytes) {
  CollectiveOp c = collective(CollectiveKind::kSendRecv, group, bytes);
  c.peer = peer;
  c.recv = recv;
  return c;
}

/// The ops of one rank in one micro-batch.
OpList lower_rank_micro_batch(const LowerEnv& env, const RankStep& step) {
  const ModelSpec& m = env.model;
  const ParallelPlan& plan = env.plan;
  OpList ops(step.micro_batch);
  // Hidden state and residual cross a stage boundary (vLLM's IntermediateTensors).
  const Bytes boundary = bf16_bytes(2 * step.work->tokens * m.hidden_size);
  ops.begin_position(0);
  if (step.coord.stage > 0) {
    ops.add("pp.recv", -1, StreamKind::kComm,
            pp_transfer(step.groups.pp, step.coord.stage - 1, true, boundary));
  } else {
    lower_embedding(ops, env, step);
  }
  for (std::int32_t layer = step.first_layer; layer < step.end_layer; ++layer) {
    ops.begin_position(layer + 1);
    detail::lower_attention(ops, env, step, layer);
    detail::lower_ffn(ops, env, step, layer);
  }
  ops.begin_position(static_cast<std::int32_t>(m.num_layers()) + 1);
  if (step.coord.stage + 1 < plan.pp) {
    ops.add("pp.send", -1, StreamKind::kComm,
            pp_transfer(step.groups.pp, step.coord.stage + 1, false, boundary));
  } else {
    lower_head(ops, env, step);
  }
  return ops;
}

/// Interleaves the micro-batches' ops by (position, stretch, micro-batch) and remaps deps.
RankPlan merge(std::vector<OpList>& lists) {
  RankPlan plan;
  if (lists.size() == 1) {
    plan.ops = std::move(lists[0].ops());
    return plan;
  }
  std::vector<std::tuple<std::int64_t, std::size_t, std::size_t>> order;
  for (std::size_t mb = 0; mb < lists.size(); ++mb) {
    for (std::size_t i = 0; i < lists[mb].ops().size(); ++i) {
      order.emplace_back(lists[mb].keys()[i], mb, i);
    }
  }
  std::sort(order.begin(), order.end());
  std::vector<std::vector<std::int32_t>> index(lists.size());
  for (std::size_t mb = 0; mb < lists.size(); ++mb) index[mb].resize(lists[mb].ops().size());
  for (std::size_t j = 0; j < order.size(); ++j) {
    index[std::get<1>(order[j])][std::get<2>(order[j])] = static_cast<std::int32_t>(j);
  }
  plan.ops.reserve(order.size());
  for (const auto& [key, mb, i] : order) {
    Op op = std::move(lists[mb].ops()[i]);
    for (std::int32_t& d : op.deps) d = index[mb][static_cast<std::size_t>(d)];
    std::sort(op.deps.begin(), op.deps.end());
    plan.ops.push_back(std::move(op));
  }
  return plan;
}

/// Everything a rank's op list depends on besides the deployment: its stage and groups, its
/// replica's sequences and FFN share per micro-batch, and its row and column of each MoE
/// layer's loads. Equal inputs give equal op lists.
/// Whether every EP rank of `l` has the same slot loads, dispatch row and dispatch column (then
/// the loads do not tell ranks apart; O(ep^2), cheaper than comparing per-rank copies).
bool every_rank_alike(const MoeLayerLoads& l) {
  const auto& slots = l.tokens_per_slot;
  const auto& d = l.dispatch_tokens;
  for (std::size_t r = 1; r < slots.size(); ++r) {
    if (slots[r] != slots[0]) return false;
  }
  for (std::size_t r = 0; r < d.size(); ++r) {
    for (std::size_t c = 0; c < d[r].size(); ++c) {
      if (d[r][c] != d[0][0]) return false;
    }
  }
  return true;
}

std::vector<std::int64_t> rank_inputs(const ParallelPlan& plan, const RankCoord& coord,
                                      const RankGroups& g,
                                      const std::vector<std::vector<MicroBatchWork>>& work,
                                      const std::vector<std::vector<std::int64_t>>& share,
                                      const std::vector<std::int64_t>& stage_tokens,
                                      const std::vector<std::vector<MoeLayerLoadsPtr>>& loads,
                                      const std::vector<std::vector<char>>& alike) {
  std::vector<std::int64_t> v = {coord.stage, g.tp, g.ep, g.stage, g.pp};
  const auto me = static_cast<std::size_t>(coord.index);
  for (std::size_t mb = 0; mb < share.size(); ++mb) {
    v.push_back(share[mb][me]);
    v.push_back(stage_tokens[mb]);
    const MicroBatchWork& w = work[static_cast<std::size_t>(coord.dp)][mb];
    v.push_back(static_cast<std::int64_t>(w.seqs.size()));
    for (const SequenceWork& q : w.seqs) {
      v.insert(v.end(), {q.q_len, q.kv_len, q.prefill ? 1 : 0, q.logits});
    }
    for (std::size_t layer = 0; layer < loads[mb].size(); ++layer) {
      if (loads[mb][layer] == nullptr) continue;  // a dense layer
      const MoeLayerLoads& l = *loads[mb][layer];
      if (alike[mb][layer] != 0) {
        v.push_back(-2);  // the same row and column for every rank: nothing tells ranks apart
        continue;
      }
      const std::size_t r = plan.ep == 1 ? 0 : me;
      v.push_back(-1);
      v.insert(v.end(), l.tokens_per_slot[r].begin(), l.tokens_per_slot[r].end());
      v.insert(v.end(), l.dispatch_tokens[r].begin(), l.dispatch_tokens[r].end());
      for (const auto& row : l.dispatch_tokens) v.push_back(row[r]);
    }
  }
  return v;
}

void check_batch(const StepBatch& batch, const ParallelPlan& plan) {
  const SourceLocation where{"<batch>", 0, 0};
  if (batch.replicas.size() != static_cast<std::size_t>(plan.attention_dp)) {
    throw ConfigError(
        where, "batch.replicas",
        "one sequence list per attention-DP replica (" + std::to_string(plan.attention_dp) + ")",
        std::to_string(batch.replicas.size()) + " lists");
  }
  for (std::size_t r = 0; r < batch.replicas.size(); ++r) {
    for (std::size_t i = 0; i < batch.replicas[r].size(); ++i) {
      const SequenceWork& s = batch.replicas[r][i];
      if (s.q_len < 0 || s.q_len > s.kv_len || s.logits < 0 || s.logits > s.q_len) {
        throw ConfigError(where,
                          "batch.replicas[" + std::to_string(r) + "][" + std::to_string(i) + "]",
                          "0 <= logits <= q_len <= kv_len",
                          "q_len " + std::to_string(s.q_len) + ", kv_len " +
                              std::to_string(s.kv_len) + ", logits " + std::to_string(s.logits));
      }
    }
  }
}

}  // namespace

Lowering::Lowering(ModelSpec model, ParallelPlan plan, Precision precision, TargetGpu gpu,
                   std::int32_t available_gpus, DispatchLayouts layouts)
    : model_(std::move(model)),
      plan_(std::move(plan)),
      precision_(std::move(precision)),
      gpu_(std::move(gpu)),
      layouts_(layouts) {
  validate_plan(model_, plan_, precision_, available_gpus);
  resolved_ = resolve_precision(precision_, gpu_);
  notes_ = resolved_.notes;
  if (model_.attention.kind == AttentionKind::kMla && plan_.tp > 1) {
    notes_.push_back("MLA under tp " + std::to_string(plan_.tp) +
                     ": the q/kv latent projections and the latent KV cache are replicated on "
                     "every TP rank; per-GPU KV bytes do not shrink with TP");
  }
}

StepPlan Lowering::lower(const StepBatch& batch) const {
  if (!model_.is_moe()) {
    ExpectedLoads none(MoeSpec{}, 0);
    return lower(batch, none);
  }
  ExpectedLoads expected(*model_.moe, plan_.redundant_experts);
  return lower(batch, expected);
}

StepPlan Lowering::lower(const StepBatch& batch, MoeLoadSource& source) const {
  check_batch(batch, plan_);
  const ParallelPlan& plan = plan_;
  const std::int32_t size = plan.stage_size();
  const auto mbs = static_cast<std::size_t>(plan.micro_batches);

  // Micro-batches of each replica, the FFN share of each stage index, the stage totals.
  std::vector<std::vector<MicroBatchWork>> work;  // [dp][mb]
  for (const auto& seqs : batch.replicas) {
    work.push_back(detail::split_micro_batches(seqs, plan.micro_batches));
  }
  std::vector<std::vector<std::int64_t>> share(mbs);  // [mb][stage index]
  std::vector<std::int64_t> stage_tokens(mbs, 0);
  for (std::size_t mb = 0; mb < mbs; ++mb) {
    for (std::int32_t i = 0; i < size; ++i) {
      const std::int32_t dp = i / plan.tp;
      const std::int32_t t = i % plan.tp;
      const std::int64_t tokens = work[static_cast<std::size_t>(dp)][mb].tokens;
      share[mb].push_back(plan.token_shares() ? tokens / plan.tp + (t < tokens % plan.tp ? 1 : 0)
                                              : tokens);
      if (t == 0) stage_tokens[mb] += tokens;
    }
  }

  const LowerEnv env{model_, plan_, resolved_, dispatch_layout(batch.phase())};
  const PlanGroups groups = make_groups(plan, model_.is_moe());
  const auto layer_ranges = stage_layers(model_, plan);

  StepPlan out;
  out.phase = batch.phase();
  out.groups = groups.all;
  out.notes = notes_;
  out.rank_plan.resize(static_cast<std::size_t>(plan.world_size()));

  for (std::int32_t s = 0; s < plan.pp; ++s) {
    const auto [first, end] = layer_ranges[static_cast<std::size_t>(s)];
    // Loads of the stage's MoE layers: [mb][layer - first].
    std::vector<std::vector<MoeLayerLoadsPtr>> loads(mbs);
    for (std::size_t mb = 0; mb < mbs; ++mb) {
      loads[mb].resize(static_cast<std::size_t>(end - first));
    }
    for (std::int32_t layer = first; layer < end; ++layer) {
      if (!model_.layers[static_cast<std::size_t>(layer)].moe) continue;
      for (std::size_t mb = 0; mb < mbs; ++mb) {
        std::vector<std::int64_t> tokens;
        if (plan.ep > 1) {
          tokens = share[mb];
        } else {
          tokens = {plan.token_shares() ? stage_tokens[mb] : work[0][mb].tokens};
        }
        loads[mb][static_cast<std::size_t>(layer - first)] =
            source.loads(layer, static_cast<std::int32_t>(mb), tokens);
      }
    }
    std::vector<std::vector<char>> alike(mbs);  // [mb][layer - first]
    const MoeLayerLoads* last = nullptr;        // the source may repeat one loads object
    bool last_alike = false;
    for (std::size_t mb = 0; mb < mbs; ++mb) {
      for (const MoeLayerLoadsPtr& l : loads[mb]) {
        if (l == nullptr) {  // a dense layer
          alike[mb].push_back(1);
          continue;
        }
        if (l.get() != last) {
          last = l.get();
          last_alike = every_rank_alike(*l);
        }
        alike[mb].push_back(last_alike ? 1 : 0);
      }
    }
    // Ranks with equal inputs get equal lists: build each distinct input once.
    std::map<std::vector<std::int64_t>, std::int32_t> built;
    for (std::int32_t i = 0; i < size; ++i) {
      const std::int32_t rank = s * size + i;
      const RankCoord coord = plan.coord(rank);
      std::vector<std::int64_t> inputs =
          rank_inputs(plan, coord, groups.of(plan, coord), work, share, stage_tokens, loads, alike);
      if (const auto it = built.find(inputs); it != built.end()) {
        out.rank_plan[static_cast<std::size_t>(rank)] = it->second;
        continue;
      }
      std::vector<OpList> lists;
      for (std::size_t mb = 0; mb < mbs; ++mb) {
        RankStep step;
        step.coord = coord;
        step.micro_batch = static_cast<std::int32_t>(mb);
        step.first_layer = first;
        step.end_layer = end;
        step.work = &work[static_cast<std::size_t>(coord.dp)][mb];
        step.share = share[mb][static_cast<std::size_t>(i)];
        step.stage_tokens = stage_tokens[mb];
        step.groups = groups.of(plan, coord);
        step.loads = &loads[mb];
        lists.push_back(lower_rank_micro_batch(env, step));
      }
      const auto index = static_cast<std::int32_t>(out.plans.size());
      out.plans.push_back(merge(lists));
      out.rank_plan[static_cast<std::size_t>(rank)] = index;
      built.emplace(std::move(inputs), index);
    }
  }
  return out;
}

}  // namespace moesim::llm
