#include "sim/step/step_timeline.hpp"

#include <algorithm>
#include <array>

#include "sim/core/assert.hpp"

namespace moesim::step {

namespace {

/// time_step when every rank runs plan.plans[0]: one timeline, every collective's members ready
/// together, every AllToAllV row the same.
StepTimeline time_uniform_step(const llm::StepPlan& plan, const cost::ComputeModel& compute,
                               StepNetwork& network) {
  const auto ranks = static_cast<std::size_t>(plan.ranks());
  const auto& list = plan.plans.front().ops;
  StepTimeline out;
  out.ops.assign(1, std::vector<OpTiming>(list.size()));
  out.rank_ops.assign(ranks, 0);
  std::vector<OpTiming>& t = out.ops.front();
  std::array<Duration, 2> stream_end{Duration::zero(), Duration::zero()};
  std::vector<Bytes> matrix;
  // Collectives priced so far: a symmetric plan repeats the same ones from layer to layer.
  std::vector<std::pair<const llm::CollectiveOp*, Duration>> priced;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const llm::Op& op = list[i];
    const auto stream = static_cast<std::size_t>(op.stream);
    Duration start = stream_end[stream];
    for (std::int32_t d : op.deps) start = std::max(start, t[static_cast<std::size_t>(d)].end);
    cost::OpCost c;
    const auto* coll = std::get_if<llm::CollectiveOp>(&op.body);
    const auto seen = coll == nullptr
                          ? priced.end()
                          : std::find_if(priced.begin(), priced.end(),
                                         [&](const auto& p) { return *p.first == *coll; });
    if (seen != priced.end()) {
      c.bound = cost::Bound::kNetwork;
      c.time = seen->second;
    } else if (coll != nullptr) {
      const llm::CommGroup& group = plan.groups[static_cast<std::size_t>(coll->group)];
      c.bound = cost::Bound::kNetwork;
      // Pipeline stages have different op lists, so a shared list has no SendRecv.
      MOESIM_ASSERT(coll->kind != llm::CollectiveKind::kSendRecv,
                    "a plan with one op list has no pipeline stages");
      if (coll->kind == llm::CollectiveKind::kAllToAllV) {
        const std::size_t p = group.ranks.size();
        MOESIM_ASSERT(coll->send_bytes.size() == p, "AllToAllV row must cover the group");
        matrix.resize(p * p);
        for (std::size_t a = 0; a < p; ++a) {
          std::copy(coll->send_bytes.begin(), coll->send_bytes.end(), matrix.begin() + a * p);
        }
        c.time = network.collective(coll->kind, group.ranks, Bytes{0}, matrix);
      } else {
        c.time = network.collective(coll->kind, group.ranks, coll->bytes, {});
      }
      priced.emplace_back(coll, c.time);
    } else {
      c = compute.price(op);
    }
    t[i] = {start, start + c.time, c};
    stream_end[stream] = start + c.time;
  }
  out.step = std::max(stream_end[0], stream_end[1]);
  out.rank_end.assign(ranks, out.step);
  return out;
}

}  // namespace

StepTimeline time_step(const llm::StepPlan& plan, const cost::ComputeModel& compute,
                       StepNetwork& network) {
  if (plan.plans.size() == 1) return time_uniform_step(plan, compute, network);
  const auto ranks = static_cast<std::size_t>(plan.ranks());
  StepTimeline out;
  out.rank_ops.resize(ranks);
  for (std::size_t r = 0; r < ranks; ++r) out.rank_ops[r] = static_cast<std::int32_t>(r);
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

}  // namespace moesim::step
