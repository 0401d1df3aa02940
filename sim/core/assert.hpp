#pragma once
/// \file
/// MOESIM_ASSERT(cond, why): an invariant check, on in every build that does not define
/// MOESIM_DISABLE_ASSERTS. A failure throws moesim::InvariantError; library code never exits.

#include "sim/core/error.hpp"

#if defined(MOESIM_DISABLE_ASSERTS)
#define MOESIM_ASSERT(cond, why) ((void)0)
#else
#define MOESIM_ASSERT(cond, why)                                                  \
  do {                                                                            \
    if (!(cond)) ::moesim::detail::assert_failed(#cond, why, __FILE__, __LINE__); \
  } while (false)
#endif
