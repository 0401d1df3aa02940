#include "sim/hw/impl/spec_readers.hpp"

namespace moesim::hw::detail {
namespace {

/// Upper bound on counts (SMs, links, GPUs, chips): catches a quantity typed as a count.
constexpr std::int64_t kMaxCount = 1'000'000;

}  // namespace

int read_count(const config::ConfigNode& node, int min) {
  const std::int64_t v = node.as_int();
  if (v < min || v > kMaxCount) {
    node.fail("a whole number from " + std::to_string(min) + " to " + std::to_string(kMaxCount));
  }
  return static_cast<int>(v);
}

std::string read_text(const config::ConfigNode& node) {
  std::string s = node.as_string();
  if (s.empty()) node.fail("a non-empty text");
  return s;
}

Bytes read_positive_bytes(const config::ConfigNode& node) {
  const Bytes b = node.as_bytes();
  if (b.base() <= 0) node.fail("a data size above zero, such as \"141 GiB\"");
  return b;
}

Bandwidth read_positive_bandwidth(const config::ConfigNode& node) {
  const Bandwidth b = node.as_bandwidth();
  if (!(b.base() > 0.0)) node.fail("a data rate above zero, such as \"900 GB/s\"");
  return b;
}

FlopRate read_positive_flop_rate(const config::ConfigNode& node) {
  const FlopRate r = node.as_flop_rate();
  if (!(r.base() > 0.0)) node.fail("a compute rate above zero, such as \"2.25 PFLOP/s\"");
  return r;
}

Power read_positive_power(const config::ConfigNode& node) {
  const Power p = node.as_power();
  if (!(p.base() > 0.0)) node.fail("a power above zero, such as \"700 W\"");
  return p;
}

}  // namespace moesim::hw::detail
