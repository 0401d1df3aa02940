#pragma once
/// \file
/// EventQueue<Context>: the pending events and the clock of one discrete-event simulation.
///
/// Order. Events run in increasing key (time, priority, sequence):
///   - time: the TimePoint at which the event fires;
///   - priority: among events at the same time, the lower Priority value runs first;
///   - sequence: the order of scheduling, so events with equal time and priority run first-in
///     first-out. An event scheduled for the current time from inside a handler runs after every
///     already-pending event of the same time and priority (and before those of a lower priority).
/// The order is a total order fixed by the calls made, so a run is deterministic.
///
/// Structure. Keys are 16 bytes {time, tag}, with
///   tag = priority (bits 56-63) | sequence (bits 28-55) | slot (bits 0-27).
/// They live in a RadixKeyQueue (below): a radix heap on time, which exploits that a simulation
/// never schedules before its clock, behind a small binary heap that holds the next few keys in
/// full order. Each handler lives in a 64-byte slot of a chunked slab (stable addresses, LIFO free
/// list), constructed in place and never moved; keys name their slot. The slots of the next events
/// are prefetched as their keys come near (worth 2-3x at a million pending events). Sequence
/// numbers restart every 2^28 schedules by an order-preserving renumbering of the pending keys (O(n
/// log n) once per 2^28 schedules).
///
/// Cancellation is lazy: cancel() destroys the handler at once (releasing what it captured) and
/// the key is discarded when it comes up, or earlier by a compaction that runs whenever cancelled
/// keys outnumber live ones; so memory stays O(live events).
///
/// Cost: push O(1), or O(log k) when it lands among the k keys of the near heap; run O(1)
/// amortised plus O(log k) for the near heap (k <= 32 plus events that share one time), each key
/// moving between buckets at most 8 times in its life (radix heap bound, 64-bit times in 8-bit
/// digits); cancel O(1) amortised. No allocation per event once buckets and slab have grown.
/// Measured (tests/bench/des_bench.cpp, hold model): see that file.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "sim/core/assert.hpp"
#include "sim/core/callable.hpp"
#include "sim/core/units.hpp"

namespace moesim {

/// Tie-break among events at the same simulated time: the lower value runs first. Any value
/// 0..255 may be used (Priority{n}); the named constants leave room between them.
enum class Priority : std::uint8_t {
  kFirst = 0,     ///< before everything else at the same time
  kHigh = 64,     ///< e.g. completions, which free resources before new work is admitted
  kNormal = 128,  ///< the default
  kLow = 192,     ///< e.g. schedulers and samplers that must see the time step's final state
  kLast = 255,    ///< after everything else at the same time
};

/// Names one scheduled event, for cancel(). A default-constructed EventId names no event.
class EventId {
 public:
  constexpr EventId() = default;
  /// True when this id was returned by a schedule call (the event may since have run).
  constexpr bool valid() const { return serial_ != 0; }
  friend constexpr bool operator==(EventId, EventId) = default;

 private:
  template <class>
  friend class EventQueue;
  constexpr EventId(std::uint64_t serial, std::uint32_t slot) : serial_(serial), slot_(slot) {}
  std::uint64_t serial_ = 0;  ///< 1-based count of schedule calls; never reused
  std::uint32_t slot_ = 0;
};

/// Bytes an event handler may capture (a lambda capturing six pointers or doubles fits).
inline constexpr std::size_t kEventHandlerCapacity = 48;

namespace detail {

/// An event's key: time in picoseconds since the epoch (never negative), then the tag.
struct EventKey {
  std::int64_t time;
  std::uint64_t tag;
};
static_assert(sizeof(EventKey) == 16);

/// The event order: by time, then by tag (priority, sequence).
inline bool key_less(const EventKey& a, const EventKey& b) {
  return a.time < b.time || (a.time == b.time && a.tag < b.tag);
}

/// Hints the processor to load the cache line holding `p` into the caches (no semantic effect).
inline void prefetch(const void* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p, 0, 2);
#else
  (void)p;
#endif
}

/// A monotone priority queue of EventKeys: a radix heap (Ahuja, Mehlhorn, Orlin and Tarjan,
/// "Faster algorithms for the shortest path problem", J. ACM 37(2), 1990) over 64-bit times in
/// 8-bit digits, in front of which a small binary heap `near_` holds the next keys in full order.
///
/// Invariants, with times as unsigned 64-bit numbers:
///   - every key in `near_` has time < near_limit_; every key in a bucket has time >= near_limit_;
///   - base_ < near_limit_ and base_ <= every bucket key;
///   - a bucket key with time t sits in bucket (level, digit): level is the highest 8-bit digit in
///     which t differs from base_, digit is t's digit there. So buckets in (level, digit) order
///     cover increasing, disjoint time ranges, and the lowest non-empty bucket holds the next keys.
/// A push below near_limit_ joins `near_`; any other push files into its bucket in O(1). When
/// `near_` runs dry the lowest bucket refills it: a small bucket moves over whole (near_limit_
/// becomes the end of its time range); a large one is re-filed relative to its least time m, the
/// new base: keys of time m go to `near_` and the others to buckets at least one level lower, so a
/// key is re-filed at most 8 times in its life.
class RadixKeyQueue {
 public:
  static constexpr int kDigitBits = 8;
  static constexpr std::size_t kDigits = std::size_t{1} << kDigitBits;
  static constexpr std::size_t kLevels = 64 / kDigitBits;
  static constexpr std::size_t kBuckets = kLevels * kDigits;
  static constexpr std::size_t kWords = kBuckets / 64;
  /// A lowest bucket this small moves into `near_` whole instead of being re-filed.
  static constexpr std::size_t kNearBucket = 32;
  /// A refilled bucket at most this large holds exactly the next keys: worth prefetching.
  static constexpr std::size_t kUpcomingLimit = 512;
  /// Buckets that grew beyond this many keys give their memory back when emptied.
  static constexpr std::size_t kRetainedCapacity = 4096;

  RadixKeyQueue() : buckets_(kBuckets) {}

  /// Number of keys held.
  std::size_t size() const { return size_; }

  /// Adds a key (time >= 0).
  void push(const EventKey& k) {
    ++size_;
    const std::uint64_t t = time_bits(k);
    if (t < near_limit_) {
      near_.push_back(k);
      std::push_heap(near_.begin(), near_.end(), key_greater);
    } else {
      file(k, t);
    }
  }

  /// Makes top() the least key; false when empty. When a bucket of at most kUpcomingLimit keys
  /// is refilled, calls on_upcoming(key) for each: they are the next keys to come up.
  template <class OnUpcoming>
  bool prepare(OnUpcoming&& on_upcoming) {
    if (!near_.empty()) return true;
    if (size_ == 0) return false;
    refill(on_upcoming);
    return true;
  }
  /// The least key. Requires a successful prepare() since the last push or pop.
  const EventKey& top() const { return near_.front(); }
  /// The least key if it is known without refilling (nullptr otherwise).
  const EventKey* known_top() const { return near_.empty() ? nullptr : &near_.front(); }
  /// Removes top(). Requires a successful prepare().
  void pop() {
    std::pop_heap(near_.begin(), near_.end(), key_greater);
    near_.pop_back();
    --size_;
  }

  /// Removes every key for which pred(key) is true; O(size).
  template <class Pred>
  void remove_if(Pred pred) {
    const std::size_t before = near_.size();
    near_.erase(std::remove_if(near_.begin(), near_.end(), pred), near_.end());
    std::make_heap(near_.begin(), near_.end(), key_greater);
    std::size_t removed = before - near_.size();
    for (std::size_t i = 0; i < kBuckets; ++i) {
      if (!marked(i)) continue;
      std::vector<EventKey>& b = buckets_[i];
      const std::size_t n = b.size();
      b.erase(std::remove_if(b.begin(), b.end(), pred), b.end());
      removed += n - b.size();
      if (b.empty()) release(i);
    }
    size_ -= removed;
  }

  /// Moves every key into `out` (appending, in no particular order) and empties the queue.
  void extract_all(std::vector<EventKey>& out);

 private:
  static bool key_greater(const EventKey& a, const EventKey& b) { return key_less(b, a); }
  static std::uint64_t time_bits(const EventKey& k) { return static_cast<std::uint64_t>(k.time); }
  bool marked(std::size_t i) const { return (words_[i >> 6] >> (i & 63)) & 1u; }

  /// Files a key with time t >= near_limit_ (> base_) into its bucket.
  void file(const EventKey& k, std::uint64_t t) {
    const std::uint64_t x = t ^ base_;
    const std::size_t level = static_cast<std::size_t>(std::bit_width(x) - 1) / kDigitBits;
    const std::size_t i = level * kDigits + ((t >> (level * kDigitBits)) & (kDigits - 1));
    buckets_[i].push_back(k);
    words_[i >> 6] |= std::uint64_t{1} << (i & 63);
    summary_ |= std::uint32_t{1} << (i >> 6);
  }

  /// Empties bucket i and unmarks it; a bucket that grew large also gives its memory back, so a
  /// bucket's peak does not stay allocated after the pending set has moved on.
  void release(std::size_t i) {
    std::vector<EventKey>& b = buckets_[i];
    if (b.capacity() > kRetainedCapacity) {
      std::vector<EventKey>().swap(b);
    } else {
      b.clear();
    }
    words_[i >> 6] &= ~(std::uint64_t{1} << (i & 63));
    if (words_[i >> 6] == 0) summary_ &= ~(std::uint32_t{1} << (i >> 6));
  }

  /// Last time of bucket i's range: base_'s digits above the bucket's level, the bucket's digit
  /// at its level, all ones below.
  std::uint64_t range_last(std::size_t i) const {
    const std::size_t shift = (i / kDigits) * kDigitBits;
    const std::uint64_t below = (std::uint64_t{1} << shift) - 1;       // digits under the level
    const std::uint64_t upto = (below << kDigitBits) | (kDigits - 1);  // ... and the level's
    return (base_ & ~upto) | (static_cast<std::uint64_t>(i % kDigits) << shift) | below;
  }

  /// Refills the empty `near_` from the lowest non-empty bucket (there is one).
  template <class OnUpcoming>
  void refill(OnUpcoming& on_upcoming) {
    const std::size_t w = static_cast<std::size_t>(std::countr_zero(summary_));
    const std::size_t i = w * 64 + static_cast<std::size_t>(std::countr_zero(words_[w]));
    std::vector<EventKey>& b = buckets_[i];
    if (b.size() <= kUpcomingLimit) {
      for (const EventKey& k : b) on_upcoming(k);
    }
    if (b.size() <= kNearBucket) {
      near_.swap(b);                    // near_ was empty: the bucket leaves empty
      near_limit_ = range_last(i) + 1;  // times are below 2^63: no overflow
    } else {
      std::uint64_t m = ~std::uint64_t{0};
      for (const EventKey& k : b) m = std::min(m, time_bits(k));
      base_ = m;
      near_limit_ = m + 1;
      // Keys differ from m only below bucket i's level, so none files back into bucket i.
      for (const EventKey& k : b) {
        const std::uint64_t t = time_bits(k);
        if (t == m) {
          near_.push_back(k);
        } else {
          file(k, t);
        }
      }
    }
    release(i);
    std::make_heap(near_.begin(), near_.end(), key_greater);
  }

  std::vector<std::vector<EventKey>> buckets_;
  std::array<std::uint64_t, kWords> words_{};  ///< bit i: bucket i is non-empty
  std::uint32_t summary_ = 0;                  ///< bit w: words_[w] != 0
  std::vector<EventKey> near_;                 ///< min-heap on the full key
  std::uint64_t base_ = 0;
  std::uint64_t near_limit_ = 1;
  std::size_t size_ = 0;
};

}  // namespace detail

/// The pending-event set and clock of a simulation whose handlers are called as
/// handler(Context&). Not thread-safe; independent queues share nothing. Movable while no
/// handler runs (a moved-from queue may only be destroyed or assigned to), not copyable.
template <class Context>
class EventQueue {
 public:
  /// The stored form of a handler: void(Context&), at most kEventHandlerCapacity bytes inline.
  using Handler = InplaceFunction<void(Context&), kEventHandlerCapacity>;

  /// Schedules between order-preserving renumberings of the sequence numbers.
  static constexpr std::uint64_t kSequencePeriod = std::uint64_t{1} << 28;
  /// Most events that may be pending at once.
  static constexpr std::uint32_t kMaxPending = std::uint32_t{1} << 28;

  /// An empty queue at time zero. `sequence_period` (2..kSequencePeriod) exists so tests can force
  /// frequent renumbering; production code keeps the default.
  explicit EventQueue(std::uint64_t sequence_period = kSequencePeriod)
      : seq_period_(sequence_period) {
    MOESIM_ASSERT(sequence_period >= 2 && sequence_period <= kSequencePeriod,
                  "sequence period out of range");
  }

  /// The current simulated time: the time of the event running or last run, or the last
  /// advance_to() bound.
  TimePoint now() const { return now_; }

  /// Schedules `handler` (callable as void(Context&)) to run at `t` with tie-break `priority`.
  /// Precondition (asserted): t >= now(). Constructs the handler in place; no allocation once
  /// the queue has grown to its peak size.
  template <class F>
  EventId push(TimePoint t, F&& handler, Priority priority = Priority::kNormal) {
    MOESIM_ASSERT(t >= now_, "event scheduled in the past");
    if (next_seq_ == seq_period_) renumber();
    const std::uint32_t si = allocate_slot();
    Slot& s = slot(si);
    try {
      s.handler.emplace(std::forward<F>(handler));
    } catch (...) {
      free_.push_back(si);
      throw;
    }
    s.serial = ++serial_counter_;
    keys_.push({t.time_since_epoch().count(),
                (std::uint64_t{static_cast<std::uint8_t>(priority)} << kPriorityShift) |
                    (next_seq_++ << kSeqShift) | si});
    ++live_;
    return EventId{s.serial, si};
  }

  /// Cancels a pending event: its handler is destroyed now and never runs. Returns false, doing
  /// nothing, when `id` names no pending event (already run, running, cancelled, or invalid).
  bool cancel(EventId id) {
    if (!id.valid() || id.slot_ >= slot_count_) return false;
    Slot& s = slot(id.slot_);
    if (s.serial != id.serial_) return false;
    s.serial = 0;
    s.handler.reset();
    --live_;
    ++cancelled_;
    if (cancelled_ >= kMinCompaction && cancelled_ * 2 > keys_.size()) compact();
    return true;
  }

  /// Number of pending (scheduled, not run, not cancelled) events.
  std::size_t size() const { return live_; }
  /// True when no event is pending.
  bool empty() const { return live_ == 0; }
  /// Number of handlers started so far.
  std::uint64_t executed() const { return executed_; }
  /// Keys held, live or cancelled and not yet discarded (a diagnostic). Compaction keeps it at
  /// most 2 * size() + 64.
  std::size_t stored_keys() const { return keys_.size(); }
  /// True while a handler is executing.
  bool running() const { return running_; }

  /// Time of the next pending event, or std::nullopt when none is pending. Discards cancelled
  /// keys that come up (hence not const).
  std::optional<TimePoint> next_time() {
    if (live_top() == nullptr) return std::nullopt;
    return TimePoint{Duration{keys_.top().time}};
  }

  /// Runs the next pending event if its time is <= `bound`: sets now() to its time, then calls
  /// its handler with `ctx`. Returns false (running nothing) when no such event exists. Must not
  /// be called from inside a handler (asserted). If the handler throws, the event is consumed
  /// and the exception propagates with the queue consistent.
  bool run_next(Context& ctx, TimePoint bound = TimePoint::max()) {
    MOESIM_ASSERT(!running_, "run_next called from inside an event handler");
    Slot* const s = live_top();
    if (s == nullptr) return false;
    const EventKey top = keys_.top();
    if (top.time > bound.time_since_epoch().count()) return false;
    keys_.pop();
    now_ = TimePoint{Duration{top.time}};
    s->serial = 0;
    --live_;
    ++executed_;
    running_ = true;
    // Unless the handler schedules an earlier one, a known next key is the next event: loading
    // its slot now overlaps that cache miss with this handler.
    if (const EventKey* next = keys_.known_top()) detail::prefetch(&slot(slot_of(*next)));
    const DispatchGuard guard(this, s, slot_of(top));
    s->handler(ctx);
    return true;
  }

  /// Moves the clock forward to `t` without running anything. Preconditions (asserted):
  /// no handler is running, t >= now(), and no pending event is earlier than `t`.
  void advance_to(TimePoint t) {
    MOESIM_ASSERT(!running_, "advance_to called from inside an event handler");
    MOESIM_ASSERT(t >= now_, "clock cannot move backwards");
    const std::optional<TimePoint> next = next_time();
    MOESIM_ASSERT(!next || *next >= t, "advance_to would skip a pending event");
    now_ = t;
  }

 private:
  using EventKey = detail::EventKey;

  struct alignas(64) Slot {
    Handler handler;
    std::uint64_t serial = 0;  ///< serial of the pending event held; 0: free, cancelled, running
  };
  static_assert(sizeof(Slot) == 64, "a slot should fill one cache line");

  /// Frees the running event's slot when its handler returns or throws.
  struct DispatchGuard {
    EventQueue* q;
    Slot* s;
    std::uint32_t si;
    DispatchGuard(EventQueue* queue, Slot* running, std::uint32_t slot_index)
        : q(queue), s(running), si(slot_index) {}
    DispatchGuard(const DispatchGuard&) = delete;
    DispatchGuard& operator=(const DispatchGuard&) = delete;
    ~DispatchGuard() {
      q->running_ = false;
      s->handler.reset();
      q->free_.push_back(si);  // never reallocates: capacity covers every slot
    }
  };

  static constexpr int kPriorityShift = 56;
  static constexpr int kSeqShift = 28;
  static constexpr std::uint64_t kSlotMask = (std::uint64_t{1} << kSeqShift) - 1;
  static constexpr std::uint64_t kSeqMask = kSlotMask << kSeqShift;
  static constexpr std::uint32_t kChunkBits = 10;
  static constexpr std::uint32_t kChunkSlots = std::uint32_t{1} << kChunkBits;
  static constexpr std::size_t kMinCompaction = 64;

  static std::uint32_t slot_of(const EventKey& k) {
    return static_cast<std::uint32_t>(k.tag & kSlotMask);
  }
  Slot& slot(std::uint32_t si) { return chunks_[si >> kChunkBits][si & (kChunkSlots - 1)]; }
  bool is_cancelled(const EventKey& k) { return slot(slot_of(k)).serial == 0; }

  std::uint32_t allocate_slot() {
    if (!free_.empty()) {
      const std::uint32_t si = free_.back();
      free_.pop_back();
      return si;
    }
    MOESIM_ASSERT(slot_count_ < kMaxPending, "too many pending events");
    if ((slot_count_ & (kChunkSlots - 1)) == 0) {
      chunks_.push_back(std::make_unique<Slot[]>(kChunkSlots));
      // Every slot can be on the free list at once, so freeing never allocates.
      free_.reserve(chunks_.size() * kChunkSlots);
    }
    return slot_count_++;
  }

  /// Brings the least live key to keys_.top(), discarding cancelled keys on the way, and returns
  /// its slot; nullptr when no event is pending. Safe inside a handler: the running event's key
  /// has left the queue.
  Slot* live_top() {
    while (prepare_top()) {
      const std::uint32_t si = slot_of(keys_.top());
      Slot& s = slot(si);
      if (s.serial != 0) return &s;
      keys_.pop();
      free_.push_back(si);
      --cancelled_;
    }
    return nullptr;
  }

  /// keys_.prepare(), prefetching the slots of the upcoming events it reports.
  bool prepare_top() {
    return keys_.prepare([this](const EventKey& k) { detail::prefetch(&slot(slot_of(k))); });
  }

  /// Drops every cancelled key and recycles its slot.
  void compact() {
    keys_.remove_if([this](const EventKey& k) {
      if (!is_cancelled(k)) return false;
      free_.push_back(slot_of(k));
      return true;
    });
    cancelled_ = 0;
  }

  /// Renumbers the sequence field 0..n-1 in key order, which keeps every relative order.
  void renumber() {
    compact();
    scratch_.clear();
    keys_.extract_all(scratch_);
    MOESIM_ASSERT(scratch_.size() < seq_period_, "more pending events than sequence numbers");
    std::sort(scratch_.begin(), scratch_.end(), detail::key_less);
    std::uint64_t seq = 0;
    for (EventKey& k : scratch_) {
      k.tag = (k.tag & ~kSeqMask) | (seq++ << kSeqShift);
      keys_.push(k);
    }
    next_seq_ = seq;
  }

  detail::RadixKeyQueue keys_;
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::vector<std::uint32_t> free_;
  std::vector<EventKey> scratch_;
  std::uint32_t slot_count_ = 0;
  std::uint64_t seq_period_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t serial_counter_ = 0;
  std::size_t live_ = 0;
  std::size_t cancelled_ = 0;
  std::uint64_t executed_ = 0;
  TimePoint now_{};
  bool running_ = false;
};

}  // namespace moesim
