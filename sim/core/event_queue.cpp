#include "sim/core/event_queue.hpp"

namespace moesim::detail {

void RadixKeyQueue::extract_all(std::vector<EventKey>& out) {
  out.insert(out.end(), near_.begin(), near_.end());
  near_.clear();
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (!marked(i)) continue;
    out.insert(out.end(), buckets_[i].begin(), buckets_[i].end());
    release(i);
  }
  size_ = 0;
}

}  // namespace moesim::detail
