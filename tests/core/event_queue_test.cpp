#include "sim/core/event_queue.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <vector>

#include "sim/core/callable.hpp"
#include "sim/core/error.hpp"
#include "sim/core/rng.hpp"

using namespace moesim;

namespace {

/// A minimal simulation context: the queue plus a trace of event labels.
struct Ctx {
  explicit Ctx(std::uint64_t sequence_period = EventQueue<Ctx>::kSequencePeriod)
      : q(sequence_period) {}
  EventQueue<Ctx> q;
  std::vector<int> trace;
  std::vector<std::int64_t> times_ps;
};

TimePoint at_ps(std::int64_t ps) { return TimePoint{Duration{ps}}; }

/// Handler that records its label and the time it ran at.
struct Record {
  int label;
  void operator()(Ctx& c) const {
    c.trace.push_back(label);
    c.times_ps.push_back(c.q.now().time_since_epoch().count());
  }
};

void run_all(Ctx& c) {
  while (c.q.run_next(c)) {
  }
}

}  // namespace

TEST_CASE("events run in time order whatever the order they were scheduled in") {
  Ctx c;
  c.q.push(at_ps(30), Record{3});
  c.q.push(at_ps(10), Record{1});
  c.q.push(at_ps(20), Record{2});
  c.q.push(at_ps(0), Record{0});
  run_all(c);
  CHECK(c.trace == std::vector<int>{0, 1, 2, 3});
  CHECK(c.times_ps == std::vector<std::int64_t>{0, 10, 20, 30});
  CHECK(c.q.now() == at_ps(30));
  CHECK(c.q.executed() == 4);
}

TEST_CASE("at the same time a lower priority value runs first") {
  Ctx c;
  c.q.push(at_ps(5), Record{3}, Priority::kLow);
  c.q.push(at_ps(5), Record{4}, Priority::kLast);
  c.q.push(at_ps(5), Record{2}, Priority::kNormal);
  c.q.push(at_ps(5), Record{0}, Priority::kFirst);
  c.q.push(at_ps(5), Record{1}, Priority::kHigh);
  c.q.push(at_ps(4), Record{-1}, Priority::kLast);  // earlier time beats any priority
  run_all(c);
  CHECK(c.trace == std::vector<int>{-1, 0, 1, 2, 3, 4});
}

TEST_CASE("at the same time and priority events run first-in first-out") {
  Ctx c;
  // 200 events at one time, scheduled in label order, interleaved with another priority.
  for (int i = 0; i < 200; ++i) {
    c.q.push(at_ps(7), Record{i});
    c.q.push(at_ps(7), Record{1000 + i}, Priority::kLow);
  }
  run_all(c);
  std::vector<int> expected;
  for (int i = 0; i < 200; ++i) expected.push_back(i);
  for (int i = 0; i < 200; ++i) expected.push_back(1000 + i);
  CHECK(c.trace == expected);
}

TEST_CASE("an event scheduled for now from a handler is ordered by priority, then after peers") {
  Ctx c;
  // At t=5 the first event schedules a kHigh and a kNormal event for t=5. The kHigh one beats
  // the already-pending kNormal event 2; the new kNormal one runs after event 2 (FIFO).
  c.q.push(at_ps(5), [](Ctx& x) {
    x.trace.push_back(1);
    x.q.push(x.q.now(), Record{4});
    x.q.push(x.q.now(), Record{2}, Priority::kHigh);
  });
  c.q.push(at_ps(5), Record{3});
  run_all(c);
  CHECK(c.trace == std::vector<int>{1, 2, 3, 4});
}

TEST_CASE("a cancelled event never runs and cancel reports whether it cancelled") {
  Ctx c;
  const EventId a = c.q.push(at_ps(1), Record{1});
  const EventId b = c.q.push(at_ps(2), Record{2});
  const EventId d = c.q.push(at_ps(3), Record{3});
  CHECK(c.q.size() == 3);
  CHECK(c.q.cancel(b));
  CHECK_FALSE(c.q.cancel(b));  // already cancelled
  CHECK(c.q.size() == 2);
  run_all(c);
  CHECK(c.trace == std::vector<int>{1, 3});
  CHECK_FALSE(c.q.cancel(a));  // already ran
  CHECK_FALSE(c.q.cancel(d));
  CHECK_FALSE(c.q.cancel(EventId{}));  // names no event
  CHECK(c.q.empty());
}

TEST_CASE("an event cannot cancel itself while it runs but can cancel others") {
  Ctx c;
  EventId self;
  EventId other;
  bool self_cancel = true;
  bool other_cancel = false;
  self = c.q.push(at_ps(1), [&](Ctx& x) {
    self_cancel = x.q.cancel(self);
    other_cancel = x.q.cancel(other);
    x.trace.push_back(1);
  });
  other = c.q.push(at_ps(2), Record{2});
  run_all(c);
  CHECK_FALSE(self_cancel);
  CHECK(other_cancel);
  CHECK(c.trace == std::vector<int>{1});
}

TEST_CASE("a recycled slot does not let a stale id cancel the new event") {
  Ctx c;
  const EventId first = c.q.push(at_ps(1), Record{1});
  run_all(c);
  // The freed slot is reused by the next event; the old id must not reach it.
  const EventId second = c.q.push(at_ps(2), Record{2});
  CHECK_FALSE(c.q.cancel(first));
  CHECK_FALSE(first == second);
  run_all(c);
  CHECK(c.trace == std::vector<int>{1, 2});
}

TEST_CASE("cancelling destroys the handler at once and the queue does not grow with cancels") {
  Ctx c;
  auto token = std::make_shared<int>(0);
  std::vector<EventId> ids;
  for (int i = 0; i < 10'000; ++i) {
    ids.push_back(c.q.push(at_ps(100 + i), [token](Ctx&) {}));
  }
  CHECK(token.use_count() == 10'001);
  for (int i = 0; i < 9'990; ++i) CHECK(c.q.cancel(ids[i]));
  // Handlers (and the shared_ptr copies they held) are gone immediately.
  CHECK(token.use_count() == 11);
  CHECK(c.q.size() == 10);
  // Compaction keeps at most as many cancelled keys as live ones, plus a small floor (64).
  CHECK(c.q.stored_keys() <= 2 * 10 + 64);
  run_all(c);
  CHECK(c.q.executed() == 10);
  CHECK(token.use_count() == 1);
}

TEST_CASE("destroying a queue destroys the handlers still pending") {
  auto token = std::make_shared<int>(0);
  {
    Ctx c;
    for (int i = 0; i < 5; ++i) c.q.push(at_ps(i), [token](Ctx&) {});
    CHECK(token.use_count() == 6);
  }
  CHECK(token.use_count() == 1);
}

TEST_CASE("scheduling in the past is an invariant violation") {
  Ctx c;
  c.q.push(at_ps(10), Record{1});
  run_all(c);
  CHECK_THROWS_AS(c.q.push(at_ps(9), Record{2}), InvariantError);
  CHECK_NOTHROW(c.q.push(at_ps(10), Record{3}));  // the current time is allowed
}

TEST_CASE("run_next honours its bound and next_time skips cancelled events") {
  Ctx c;
  CHECK_FALSE(c.q.next_time().has_value());
  const EventId early = c.q.push(at_ps(5), Record{5});
  c.q.push(at_ps(10), Record{10});
  c.q.push(at_ps(20), Record{20});
  CHECK(c.q.next_time() == at_ps(5));
  c.q.cancel(early);
  CHECK(c.q.next_time() == at_ps(10));
  CHECK(c.q.run_next(c, at_ps(10)));  // time 10 <= bound 10 runs
  CHECK_FALSE(c.q.run_next(c, at_ps(19)));
  CHECK(c.q.now() == at_ps(10));
  c.q.advance_to(at_ps(15));
  CHECK(c.q.now() == at_ps(15));
  CHECK_THROWS_AS(c.q.advance_to(at_ps(25)), InvariantError);  // would skip the event at 20
  CHECK(c.trace == std::vector<int>{10});
}

TEST_CASE("a throwing handler consumes its event and leaves the queue usable") {
  Ctx c;
  c.q.push(at_ps(1), [](Ctx&) { throw std::runtime_error("boom"); });
  c.q.push(at_ps(2), Record{2});
  CHECK_THROWS_AS(c.q.run_next(c), std::runtime_error);
  CHECK(c.q.size() == 1);
  CHECK_FALSE(c.q.running());
  run_all(c);
  CHECK(c.trace == std::vector<int>{2});
}

TEST_CASE("sequence renumbering keeps first-in first-out order") {
  // A sequence period of 8 forces a renumbering every few schedules; 5 events stay pending at
  // one time while each run schedules another at the same time, so FIFO spans many epochs.
  Ctx c(8);
  int next_label = 0;
  struct Chain {
    int* next_label;
    int label;
    void operator()(Ctx& x) const {
      x.trace.push_back(label);
      if (*next_label < 100) x.q.push(x.q.now(), Chain{next_label, (*next_label)++});
    }
  };
  for (int i = 0; i < 5; ++i) c.q.push(at_ps(3), Chain{&next_label, next_label++});
  run_all(c);
  std::vector<int> expected;
  for (int i = 0; i < 100; ++i) expected.push_back(i);
  CHECK(c.trace == expected);
}

namespace {

/// Parameters of a randomised comparison with a reference model.
struct ModelRun {
  std::uint64_t sequence_period;
  int max_pending;
  int steps;
  std::uint64_t seed;
  /// Delays are uniform on [0, spread) picoseconds, or 0 with probability 1/8.
  std::uint64_t spread;
};

/// Random schedule / cancel / run / peek / bounded-run / advance operations, each checked
/// against an ordered set of (time, priority, label) keys, which is the documented event order.
void check_against_reference(const ModelRun& m) {
  Ctx c(m.sequence_period);
  Rng rng(m.seed, 0);
  using RefKey = std::tuple<std::int64_t, int, int>;  // time, priority, label (= order)
  std::set<RefKey> ref;
  std::vector<std::pair<EventId, RefKey>> handles;
  int label = 0;
  const auto now_ps = [&c] { return c.q.now().time_since_epoch().count(); };
  const auto check_ran = [&](bool ran) {
    if (!ran) return;
    REQUIRE(!ref.empty());
    CHECK(c.trace.back() == std::get<2>(*ref.begin()));
    CHECK(now_ps() == std::get<0>(*ref.begin()));
    ref.erase(ref.begin());
  };
  for (int step = 0; step < m.steps; ++step) {
    const std::uint64_t op = rng.uniform_int(16);
    if (op < 8 && static_cast<int>(ref.size()) < m.max_pending) {
      const std::uint64_t delay = rng.uniform_int(8) == 0 ? 0 : rng.uniform_int(m.spread);
      const std::int64_t t = now_ps() + static_cast<std::int64_t>(delay);
      const int prio = static_cast<int>(rng.uniform_int(3)) * 64;
      const RefKey key{t, prio, label};
      handles.emplace_back(
          c.q.push(at_ps(t), Record{label}, Priority{static_cast<std::uint8_t>(prio)}), key);
      ref.insert(key);
      ++label;
    } else if (op < 11 && !handles.empty()) {
      // Mostly recent events, so that many cancels hit pending ones.
      const std::size_t window = std::min<std::size_t>(handles.size(), 3 * m.max_pending);
      const std::size_t i = handles.size() - 1 - rng.uniform_int(window);
      const bool was_pending = ref.erase(handles[i].second) == 1;
      CHECK(c.q.cancel(handles[i].first) == was_pending);
    } else if (op == 11) {
      // Look ahead without running; later pushes may then land before the looked-at event.
      const std::optional<TimePoint> next = c.q.next_time();
      REQUIRE(next.has_value() == !ref.empty());
      if (next) CHECK(next->time_since_epoch().count() == std::get<0>(*ref.begin()));
    } else if (op == 12) {
      // A bounded run, then (when nothing is pending before it) a clock advance to the bound.
      const std::int64_t bound = now_ps() + static_cast<std::int64_t>(rng.uniform_int(m.spread));
      const bool ran = c.q.run_next(c, at_ps(bound));
      CHECK(ran == (!ref.empty() && std::get<0>(*ref.begin()) <= bound));
      check_ran(ran);
      if (!ran && bound >= now_ps()) {
        c.q.advance_to(at_ps(bound));
        CHECK(now_ps() == bound);
      }
    } else {
      const bool ran = c.q.run_next(c);
      REQUIRE(ran == !ref.empty());
      check_ran(ran);
    }
    REQUIRE(c.q.size() == ref.size());
  }
  while (!ref.empty()) check_ran(c.q.run_next(c));
  CHECK_FALSE(c.q.run_next(c));
}

}  // namespace

TEST_CASE("random operations match an ordered-set reference model") {
  // Spreads from 50 ps (many ties, near-heap work) to 2^40 ps (keys in high radix levels).
  SUBCASE("dense times") { check_against_reference({1u << 28, 200, 60'000, 1, 50}); }
  SUBCASE("microsecond spread") { check_against_reference({1u << 28, 2000, 60'000, 2, 5'000'000}); }
  SUBCASE("wide spread") { check_against_reference({1u << 28, 500, 60'000, 3, 1ull << 40}); }
  SUBCASE("frequent renumbering") { check_against_reference({64, 40, 20'000, 4, 1000}); }
}

TEST_CASE("a large hold model runs in key order") {
  // 20000 pending events; each run schedules one successor after an exponential delay (mean
  // 1 us) with a random priority, 1 in 8 with zero delay. A std::set of (time, priority, label)
  // predicts every event; this drives keys through all radix levels many times.
  Ctx c;
  Rng rng(77, 0);
  using RefKey = std::tuple<std::int64_t, int, int>;
  std::set<RefKey> ref;
  int label = 0;
  const auto schedule = [&](std::int64_t t) {
    const int prio = static_cast<int>(rng.uniform_int(4)) * 64;
    c.q.push(at_ps(t), Record{label}, Priority{static_cast<std::uint8_t>(prio)});
    ref.insert({t, prio, label++});
  };
  for (int i = 0; i < 20'000; ++i) schedule(rng.exponential(microseconds(1)).count());
  int mismatches = 0;
  for (int i = 0; i < 200'000; ++i) {
    REQUIRE(c.q.run_next(c));
    if (c.trace.back() != std::get<2>(*ref.begin())) ++mismatches;
    ref.erase(ref.begin());
    const std::int64_t now = c.q.now().time_since_epoch().count();
    schedule(rng.uniform_int(8) == 0 ? now : now + rng.exponential(microseconds(1)).count());
  }
  CHECK(mismatches == 0);
  CHECK(c.q.size() == 20'000);
}

TEST_CASE("an inplace function holds move-only captures and destroys them once") {
  auto owned = std::make_unique<int>(41);
  auto token = std::make_shared<int>(0);
  InplaceFunction<int(int), 32> f = [p = std::move(owned), token](int x) { return *p + x; };
  CHECK(static_cast<bool>(f));
  CHECK(f(1) == 42);
  CHECK(token.use_count() == 2);
  InplaceFunction<int(int), 32> g = std::move(f);  // relocates the capture
  CHECK_FALSE(static_cast<bool>(f));
  CHECK(g(2) == 43);
  CHECK(token.use_count() == 2);
  g.reset();
  CHECK(token.use_count() == 1);
  InplaceFunction<int(int), 32> h = [](int x) { return 2 * x; };  // trivially copyable
  InplaceFunction<int(int), 32> k;
  k = std::move(h);
  CHECK(k(21) == 42);
}
