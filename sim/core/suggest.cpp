#include "sim/core/suggest.hpp"

#include <algorithm>
#include <vector>

namespace moesim {
namespace {

/// Shortest common prefix that counts as a prefix match: one letter says too little.
constexpr std::size_t kMinPrefix = 2;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// Whether the shorter of `a` and `b` (at least kMinPrefix long) starts the longer one.
bool prefix_related(std::string_view a, std::string_view b) {
  const std::string_view shorter = a.size() <= b.size() ? a : b;
  const std::string_view longer = a.size() <= b.size() ? b : a;
  return shorter.size() >= kMinPrefix && longer.starts_with(shorter);
}

/// Whether `a` and `b` hold the same letters in some order (a swap typo, "f8p" for "fp8").
bool same_letters(std::string a, std::string b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // d[i][j]: distance between the first i characters of a and the first j of b, three rows.
  std::vector<std::size_t> before(b.size() + 1);  // row i - 2
  std::vector<std::size_t> prev(b.size() + 1);    // row i - 1
  std::vector<std::size_t> row(b.size() + 1);     // row i
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      row[j] =
          std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], before[j - 2] + 1);
      }
    }
    std::swap(before, prev);
    std::swap(prev, row);
  }
  return prev[b.size()];
}

std::string closest_match(std::string_view typed, std::span<const std::string> candidates) {
  const std::string t = lower(typed);
  for (const auto& c : candidates) {
    if (c != typed && lower(c) == t) return c;
  }
  std::string best;
  std::size_t best_d = 0;
  for (const auto& c : candidates) {
    const std::string l = lower(c);
    if (c == typed || !prefix_related(t, l)) continue;
    const std::size_t d = edit_distance(t, l);
    if (best.empty() || d < best_d) {
      best_d = d;
      best = c;
    }
  }
  if (!best.empty()) return best;
  const std::size_t limit = std::max<std::size_t>(2, typed.size() / 3);
  best_d = limit + 1;
  bool best_anagram = false;
  for (const auto& c : candidates) {
    if (c == typed) continue;
    const std::string l = lower(c);
    const std::size_t d = edit_distance(t, l);
    const bool anagram = same_letters(t, l);
    if (d < best_d || (d == best_d && anagram && !best_anagram)) {
      best_d = d;
      best = c;
      best_anagram = anagram;
    }
  }
  return best;
}

}  // namespace moesim
