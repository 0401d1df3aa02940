#pragma once
/// \file
/// A minimal parallel loop for the studies (sweeps, sizing): independent simulations, each
/// writing only its own result slot, so the output does not depend on the thread count.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace moesim::study {

/// Runs fn(i) for every i in [0, n) on min(jobs, n) threads (at least one, the caller's), each
/// taking the next index; after the first exception no new index starts, and once all threads
/// have joined that exception is rethrown.
template <typename Fn>
void parallel_for(std::size_t n, unsigned jobs, Fn&& fn) {
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        fn(i);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n);
      }
    }
  };
  const unsigned threads = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(n)));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace moesim::study
