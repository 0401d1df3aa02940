#pragma once
/// \file
/// "Did you mean" suggestions for misspelt keys and names.

#include <span>
#include <string>
#include <string_view>

namespace moesim {

/// Levenshtein edit distance between two strings (case-sensitive).
std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidate closest to `typed`, if it is close enough to be a plausible typo (distance at
/// most max(2, |typed| / 3)); an empty string otherwise. Ties go to the earlier candidate.
std::string closest_match(std::string_view typed, std::span<const std::string> candidates);

}  // namespace moesim
