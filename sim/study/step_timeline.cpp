#include "sim/study/step_timeline.hpp"

#include <algorithm>

#include "sim/core/assert.hpp"

namespace moesim::study {

StepTimeline time_step(const llm::StepPlan& plan, const cost::ComputeModel& compute,
                       StepNetwork& network) {
  const auto ranks = static_cast<std::size_t>(plan.ranks());
  StepTimeline out;
  out.ops.resize(ranks);
  out.rank_end.assign(ranks, Duration::zero());

  // Compute costs once per distinct op list.
  std::vector<std::vector<cost::OpCost>> list_costs(plan.plans.size());
  std::size_t max_ops = 0;
  for (std::size_t p = 0; p < plan.plans.size(); ++p) {
    const auto& ops = plan.plans[p].ops;
    max_ops = std::max(max_ops, ops.size());
    list_costs[p].resize(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (!std::holds_alternative<llm::CollectiveOp>(ops[i].body)) {
        list_costs[p][i] = compute.price(ops[i]);
      }
    }
  }
  // Per rank and stream, the end of its last op.
  std::vector<std::array<Duration, 2>> stream_end(ranks, {Duration::zero(), Duration::zero()});
  for (std::size_t r = 0; r < ranks; ++r) {
    out.ops[r].resize(plan.plan_of(static_cast<std::int32_t>(r)).ops.size());
  }
  auto ready_time = [&](std::size_t r, std::size_t i) {
    const llm::Op& op = plan.plan_of(static_cast<std::int32_t>(r)).ops[i];
    Duration t = stream_end[r][static_cast<std::size_t>(op.stream)];
    for (std::int32_t d : op.deps) t = std::max(t, out.ops[r][static_cast<std::size_t>(d)].end);
    return t;
  };
  std::vector<char> done(ranks);
  std::vector<Bytes> matrix;
  std::vector<int> members;
  for (std::size_t i = 0; i < max_ops; ++i) {
    std::fill(done.begin(), done.end(), 0);
    for (std::size_t r = 0; r < ranks; ++r) {
      const auto& list = plan.plan_of(static_cast<std::int32_t>(r)).ops;
      if (i >= list.size() || done[r]) continue;
      const llm::Op& op = list[i];
      const auto stream = static_cast<std::size_t>(op.stream);
      const auto* coll = std::get_if<llm::CollectiveOp>(&op.body);
      if (coll == nullptr) {
        const auto& c = list_costs[static_cast<std::size_t>(plan.rank_plan[r])][i];
        const Duration start = ready_time(r, i);
        out.ops[r][i] = {start, start + c.time, c};
        stream_end[r][stream] = start + c.time;
        continue;
      }
      const llm::CommGroup& group = plan.groups[static_cast<std::size_t>(coll->group)];
      if (coll->kind == llm::CollectiveKind::kSendRecv) {
        // Point to point between pipeline stages, whose op lists differ: priced on this rank
        // alone, without waiting for the peer (the stage boundary of one micro-batch).
        const int pair[2] = {static_cast<int>(r),
                             group.ranks[static_cast<std::size_t>(coll->peer)]};
        cost::OpCost c;
        c.time = network.collective(coll->kind, pair, coll->bytes, {});
        c.bound = cost::Bound::kNetwork;
        const Duration start = ready_time(r, i);
        out.ops[r][i] = {start, start + c.time, c};
        stream_end[r][stream] = start + c.time;
        continue;
      }
      // A collective: every member at index i joins; it starts when the last one is ready.
      members.assign(group.ranks.begin(), group.ranks.end());
      const std::size_t p = members.size();
      Duration start = Duration::zero();
      for (int m : members) {
        const auto mr = static_cast<std::size_t>(m);
        const auto& mlist = plan.plan_of(m).ops;
        MOESIM_ASSERT(i < mlist.size(), "ranks of a group disagree on their op sequence");
        const auto* mc = std::get_if<llm::CollectiveOp>(&mlist[i].body);
        MOESIM_ASSERT(mc != nullptr && mc->kind == coll->kind && mc->group == coll->group,
                      "ranks of a group disagree on their collectives");
        start = std::max(start, ready_time(mr, i));
      }
      Duration time{};
      if (coll->kind == llm::CollectiveKind::kAllToAllV) {
        matrix.assign(p * p, Bytes{0});
        for (std::size_t a = 0; a < p; ++a) {
          const auto& row = std::get<llm::CollectiveOp>(plan.plan_of(members[a]).ops[i].body);
          MOESIM_ASSERT(row.send_bytes.size() == p, "AllToAllV row must cover the group");
          for (std::size_t b = 0; b < p; ++b) matrix[a * p + b] = row.send_bytes[b];
        }
        time = network.collective(coll->kind, members, Bytes{0}, matrix);
      } else {
        time = network.collective(coll->kind, members, coll->bytes, {});
      }
      cost::OpCost c;
      c.time = time;
      c.bound = cost::Bound::kNetwork;
      for (int m : members) {
        const auto mr = static_cast<std::size_t>(m);
        out.ops[mr][i] = {start, start + time, c};
        stream_end[mr][stream] = start + time;
        done[mr] = 1;
      }
    }
  }
  for (std::size_t r = 0; r < ranks; ++r) {
    out.rank_end[r] = std::max(stream_end[r][0], stream_end[r][1]);
    if (out.rank_end[r] > out.step) {
      out.step = out.rank_end[r];
      out.slowest_rank = static_cast<std::int32_t>(r);
    }
  }
  return out;
}

}  // namespace moesim::study
