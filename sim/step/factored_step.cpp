#include "sim/step/factored_step.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/llm/precision.hpp"
#include "sim/llm/sampled_loads.hpp"

namespace moesim::step {
namespace {

/// Rank 0's row of llm::expected_loads for every rank, and a constant dispatch matrix of
/// round(rank 0's dispatched tokens / ep) per entry.
llm::MoeLayerLoads symmetric_loads(const llm::MoeSpec& moe, std::int32_t redundant,
                                   std::span<const std::int64_t> tokens_per_ep_rank) {
  llm::MoeLayerLoads e = llm::expected_loads(moe, redundant, tokens_per_ep_rank);
  const std::vector<std::int32_t> row = e.tokens_per_slot.front();
  for (auto& r : e.tokens_per_slot) r = row;
  const auto p = static_cast<std::int64_t>(e.dispatch_tokens.size());
  std::int64_t sent = 0;
  for (const std::int32_t n : e.dispatch_tokens.front()) sent += n;
  const auto c = static_cast<std::int32_t>((sent + p / 2) / p);
  for (auto& r : e.dispatch_tokens) r.assign(static_cast<std::size_t>(p), c);
  return e;
}

/// The lowering's load source for the symmetric base: records every call, answers rank 0's
/// expected row for every rank and a constant dispatch matrix.
class SymmetricLoads final : public llm::MoeLoadSource {
 public:
  SymmetricLoads(const llm::MoeSpec& moe, std::int32_t redundant, std::vector<MoeLoadCall>& calls)
      : moe_(moe), redundant_(redundant), calls_(calls) {}

  llm::MoeLayerLoadsPtr loads(std::int32_t layer, std::int32_t micro_batch,
                              std::span<const std::int64_t> tokens_per_ep_rank) override {
    calls_.push_back({layer, micro_batch, {tokens_per_ep_rank.begin(), tokens_per_ep_rank.end()}});
    // Every layer of a stage routes the same tokens: answer repeats with the last result.
    if (last_ != nullptr && std::ranges::equal(last_tokens_, tokens_per_ep_rank)) return last_;
    last_tokens_.assign(tokens_per_ep_rank.begin(), tokens_per_ep_rank.end());
    last_ = std::make_shared<const llm::MoeLayerLoads>(
        symmetric_loads(moe_, redundant_, tokens_per_ep_rank));
    return last_;
  }

 private:
  const llm::MoeSpec& moe_;
  std::int32_t redundant_;
  std::vector<MoeLoadCall>& calls_;
  std::vector<std::int64_t> last_tokens_;
  llm::MoeLayerLoadsPtr last_;
};

/// Op indices of one MoE layer call in the base's representative op list.
struct CallOps {
  std::int32_t gate_up = -1;
  std::int32_t act = -1;
  std::int32_t down = -1;
  std::int32_t dispatch = -1;
  std::int32_t combine = -1;
};

}  // namespace

SymmetricStep lower_symmetric(const Deployment& d, const llm::StepBatch& batch,
                              StepNetwork& network) {
  MOESIM_ASSERT(d.model.moe.has_value() && d.plan.ep > 1 && d.plan.pp == 1,
                "factored pricing needs an MoE model with EP > 1 on one pipeline stage");
  std::vector<MoeLoadCall> calls;
  SymmetricLoads source(*d.model.moe, d.plan.redundant_experts, calls);
  SymmetricStep out;
  out.plan = d.lowering->lower(batch, source);
  out.timeline = time_step(out.plan, *d.compute, network);
  out.calls = std::move(calls);
  return out;
}

StepCorrections sample_corrections(const Deployment& d, const SymmetricStep& base,
                                   std::span<const MoeLoadCall> calls, Rng& rng,
                                   StepNetwork& network) {
  MOESIM_ASSERT(calls.size() == base.calls.size(), "one correction per MoE call of the base");
  const llm::RankPlan& list = base.plan.plan_of(0);
  std::map<std::pair<std::int32_t, std::int32_t>, CallOps> index;
  for (std::size_t i = 0; i < list.ops.size(); ++i) {
    const llm::Op& op = list.ops[i];
    if (op.layer < 0) continue;
    CallOps& c = index[{op.layer, op.micro_batch}];
    const auto at = static_cast<std::int32_t>(i);
    if (op.name == "moe.gate_up") c.gate_up = at;
    if (op.name == "moe.act") c.act = at;
    if (op.name == "moe.down") c.down = at;
    if (op.name == "moe.dispatch") c.dispatch = at;
    if (op.name == "moe.combine") c.combine = at;
  }
  const llm::ResolvedPrecision& precision = d.lowering->precision();
  const Bytes payload_dispatch =
      llm::payload_bytes_per_token(d.model.hidden_size, precision.dispatch);
  const Bytes payload_combine =
      llm::payload_bytes_per_token(d.model.hidden_size, precision.combine);
  llm::SampledLoads sampler(d.routing, rng);

  StepCorrections out;
  out.calls.reserve(calls.size());
  std::vector<std::int64_t> reference_tokens;
  llm::MoeLayerLoads reference;
  std::vector<std::int64_t> reference_dispatch;  // copies of the reference (dispatch_copies)
  Duration reference_comm{-1};  // dispatch + combine of the reference, once per token count
  // (token, expert) copies instead of tokens per destination rank (DeepEP low-latency).
  const llm::DispatchLayout layout = d.lowering->dispatch_layout(base.plan.phase);
  const bool per_pair = layout == llm::DispatchLayout::kPerTokenExpert;
  std::vector<std::int64_t> copies;
  std::vector<std::int64_t> received;  // per EP rank, reused across calls
  for (const MoeLoadCall& call : calls) {
    const CallOps& at = index.at({call.layer, call.micro_batch});
    MOESIM_ASSERT(
        at.gate_up >= 0 && at.act >= 0 && at.down >= 0 && at.dispatch >= 0 && at.combine >= 0,
        "an expert-parallel MoE layer lowers to dispatch, experts and combine");
    if (reference_tokens != call.tokens_per_ep_rank) {
      reference_tokens = call.tokens_per_ep_rank;
      reference = symmetric_loads(*d.model.moe, d.plan.redundant_experts, reference_tokens);
      reference_comm = Duration{-1};
    }
    sampler.sample(call.layer, call.tokens_per_ep_rank);
    const llm::RankLoads& real = sampler.rank_loads();
    const llm::DispatchCounts& dispatch = sampler.dispatch();
    llm::Op gate_up = list.ops[static_cast<std::size_t>(at.gate_up)];
    llm::Op down = list.ops[static_cast<std::size_t>(at.down)];
    auto& gate_up_body = std::get<llm::GroupedGemmOp>(gate_up.body);
    auto& down_body = std::get<llm::GroupedGemmOp>(down.body);
    // The SwiGLU between the two GEMMs moves bytes in proportion to the routed rows.
    const llm::Op& act_shape = list.ops[static_cast<std::size_t>(at.act)];
    const auto& act_body = std::get<llm::MemoryOp>(act_shape.body);
    llm::Op act = act_shape;
    auto& act_scaled = std::get<llm::MemoryOp>(act.body);
    const std::int64_t shape_rows = gate_up_body.total_tokens();
    // The (token, top-k slot) routes entering a rank's MoE module (GroupedGemmOp::routes_in):
    // the symmetric plan's for the reference, each rank's received copies for the draw.
    const std::int64_t reference_routes = gate_up_body.routes_in;
    auto experts_time = [&](auto slots, std::int64_t routes, cost::Bound* bound) {
      gate_up_body.tokens_per_expert.assign(slots.begin(), slots.end());
      gate_up_body.routes_in = routes;
      down_body.tokens_per_expert.assign(slots.begin(), slots.end());
      const cost::OpCost gu = d.compute->price(gate_up);
      const cost::OpCost dn = d.compute->price(down);
      const std::int64_t rows = gate_up_body.total_tokens();
      if (shape_rows > 0) {
        const double f = static_cast<double>(rows) / static_cast<double>(shape_rows);
        act_scaled.read = Bytes{std::llround(static_cast<double>(act_body.read.base()) * f)};
        act_scaled.written = Bytes{std::llround(static_cast<double>(act_body.written.base()) * f)};
        act_scaled.flops = Flops{act_body.flops.base() * f};
      }
      if (bound != nullptr) *bound = gu.bound;
      return gu.time + d.compute->price(act).time + dn.time;
    };
    const Duration base_experts =
        experts_time(std::span<const std::int32_t>(reference.tokens_per_slot.front()),
                     reference_routes, nullptr);

    MoeCallCorrection c;
    c.layer = call.layer;
    c.micro_batch = call.micro_batch;
    Duration sum{};
    Duration slowest{-1};
    const auto ep = static_cast<std::size_t>(dispatch.num_ranks);
    const std::size_t slots_per_rank = real.slot_tokens.size() / ep;
    // What each pair of ranks exchanges: tokens per destination rank, or (token, expert) copies.
    std::span<const std::int64_t> counts = dispatch.tokens;
    if (per_pair) {
      copies.assign(dispatch.tokens.begin(), dispatch.tokens.end());
      llm::to_pair_copies(copies, real.rank_tokens);
      counts = copies;
    }
    // Copies each rank receives: the column sums, in one row-major pass.
    received.assign(ep, 0);
    for (std::size_t src = 0; src < ep; ++src) {
      for (std::size_t dst = 0; dst < ep; ++dst) received[dst] += counts[src * ep + dst];
    }
    const std::int64_t topk = d.model.moe->experts_per_token;
    for (std::size_t r = 0; r < ep; ++r) {
      cost::Bound bound = cost::Bound::kMemory;
      const Duration t = experts_time(std::span<const std::int64_t>(real.slot_tokens)
                                          .subspan(r * slots_per_rank, slots_per_rank),
                                      per_pair ? received[r] : received[r] * topk, &bound);
      if (out.rank_excess.size() < ep) out.rank_excess.resize(ep);
      out.rank_excess[r] += t - base_experts;
      sum += t;
      if (t > slowest) {
        slowest = t;
        c.slowest_rank = static_cast<std::int32_t>(r);
        c.bound = bound;
      }
    }
    c.slowest_experts = slowest;
    c.max_excess = slowest - base_experts;
    c.mean_excess = Duration{sum.count() / static_cast<std::int64_t>(ep)} - base_experts;

    const auto& coll =
        std::get<llm::CollectiveOp>(list.ops[static_cast<std::size_t>(at.dispatch)].body);
    const std::vector<int>& members = base.plan.groups[static_cast<std::size_t>(coll.group)].ranks;
    MOESIM_ASSERT(members.size() == ep, "the EP group has one member per EP rank");
    c.slowest_rank = members[static_cast<std::size_t>(c.slowest_rank)];
    // Dispatch sends tokens[a][b] from EP rank a to EP rank b; combine sends them back.
    auto dispatch_and_combine = [&](std::span<const std::int64_t> tokens) {
      return std::pair{network.all_to_all_v_counts(members, tokens, payload_dispatch, false),
                       network.all_to_all_v_counts(members, tokens, payload_combine, true)};
    };
    std::tie(c.dispatch, c.combine) = dispatch_and_combine(counts);
    if (reference_comm < Duration{0}) {
      reference_dispatch = llm::dispatch_copies(reference, layout);
      const auto [ref_dispatch, ref_combine] = dispatch_and_combine(reference_dispatch);
      reference_comm = ref_dispatch + ref_combine;
    }
    c.comm_excess = c.dispatch + c.combine - reference_comm;
    out.calls.push_back(c);
  }
  return out;
}

}  // namespace moesim::step
