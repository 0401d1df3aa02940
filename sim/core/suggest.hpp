#pragma once
/// \file
/// "Did you mean" suggestions for misspelt keys and names.

#include <span>
#include <string>
#include <string_view>

namespace moesim {

/// Edit distance between two strings (case-sensitive): the fewest single-character insertions,
/// deletions, substitutions and swaps of two adjacent characters (optimal string alignment; a
/// swap such as "f8p" -> "fp8" is one edit, as it is one slip of the fingers).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate `typed` most plausibly meant, or an empty string. Comparison ignores case, and
/// a candidate spelt exactly as `typed` is never suggested (the caller rejected it already, so
/// suggesting it back would say nothing). In order of preference:
///   1. a candidate equal to `typed` but for case ("EP" -> "ep");
///   2. a prefix match of at least 2 characters: a candidate that starts with `typed` (a
///      truncated key, "dis" -> "dispatch") or that `typed` starts with ("weightsx" ->
///      "weights"); among several, the nearest by edit distance;
///   3. the nearest candidate by edit distance, if that distance is at most max(2, |typed| / 3);
///      on a tie, one with the same letters as `typed` (a swap: "f8p" -> "fp8" over "fp4",
///      when "fp8" is one edit away as a swap and "fp4" as a substitution).
/// Other ties go to the earlier candidate.
std::string closest_match(std::string_view typed, std::span<const std::string> candidates);

}  // namespace moesim
