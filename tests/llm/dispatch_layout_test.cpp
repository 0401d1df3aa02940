// Tests of the MoE all-to-all traffic layouts (sim/llm/placement.hpp to_pair_copies,
// sim/llm/lowering.hpp dispatch_copies): tokens per destination rank, or (token, expert) copies.

#include <doctest/doctest.h>

#include <vector>

#include "sim/llm/lowering.hpp"
#include "sim/llm/placement.hpp"

namespace moesim::llm {
namespace {

TEST_CASE("pair copies scale each destination's column to the pairs it computes") {
  // Two ranks. Rank 0 receives 2 + 3 = 5 tokens and computes 6 token-expert pairs: its column
  // scales by 6/5 (2 -> 2.4 -> 2, 3 -> 3.6 -> 4). Rank 1 receives 1 + 4 = 5 and computes 10:
  // x2 (1 -> 2, 4 -> 8).
  std::vector<std::int64_t> tokens = {2, 1, 3, 4};  // [src * 2 + dst]
  to_pair_copies(tokens, std::vector<std::int64_t>{6, 10});
  CHECK(tokens == std::vector<std::int64_t>{2, 2, 4, 8});
  // A rank that receives nothing keeps zeros.
  std::vector<std::int64_t> idle = {0, 1, 0, 1};
  to_pair_copies(idle, std::vector<std::int64_t>{0, 4});
  CHECK(idle == std::vector<std::int64_t>{0, 2, 0, 2});
}

TEST_CASE("dispatch copies are the loads' tokens per rank, or their pair copies") {
  MoeLayerLoads loads;
  loads.tokens_per_slot = {{3, 3}, {5, 5}};  // pairs computed: 6 and 10
  loads.dispatch_tokens = {{2, 1}, {3, 4}};
  CHECK(dispatch_copies(loads, DispatchLayout::kPerRank) == std::vector<std::int64_t>{2, 1, 3, 4});
  CHECK(dispatch_copies(loads, DispatchLayout::kPerTokenExpert) ==
        std::vector<std::int64_t>{2, 2, 4, 8});
}

}  // namespace
}  // namespace moesim::llm
