#include "sim/core/suggest.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace moesim {
namespace {

TEST_CASE("edit distance counts single-character insertions, deletions and substitutions") {
  // kitten -> sitten (substitute) -> sittin (substitute) -> sitting (insert): 3.
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);  // three insertions
  CHECK(edit_distance("abc", "") == 3);
  CHECK(edit_distance("capacity", "capacity") == 0);
  CHECK(edit_distance("capcity", "capacity") == 1);   // one insertion
  CHECK(edit_distance("Capacity", "capacity") == 1);  // case-sensitive
}

TEST_CASE("edit distance counts a swap of two adjacent characters as one edit") {
  CHECK(edit_distance("f8p", "fp8") == 1);  // swap "8p"
  CHECK(edit_distance("f8p", "fp4") == 2);  // two substitutions
  CHECK(edit_distance("ab", "ba") == 1);
  // A swap does not reach across: "abc" -> "cba" is two substitutions (a<->c), not swaps.
  CHECK(edit_distance("abc", "cba") == 2);
}

TEST_CASE("closest_match suggests a plausible typo and nothing for an unrelated word") {
  const std::vector<std::string> keys = {"bandwidth", "capacity", "type"};
  CHECK(closest_match("capcity", keys) == "capacity");
  CHECK(closest_match("bandwith", keys) == "bandwidth");
  // "xyz" is 3 edits from "type" (limit max(2, 3 / 3) = 2) and further from the others.
  CHECK(closest_match("xyz", keys).empty());
  // Ties go to the earlier candidate: "ab" is one edit from both.
  const std::vector<std::string> tied = {"ax", "ay"};
  CHECK(closest_match("ab", tied) == "ax");
  CHECK(closest_match("anything", std::vector<std::string>{}).empty());
}

TEST_CASE("closest_match prefers the same word in another case over a closer spelling") {
  // Case-sensitively "EP" is two substitutions from both "tp" and "ep"; the earlier "tp" won.
  const std::vector<std::string> plan = {"tp", "pp", "ep", "attention_dp"};
  CHECK(closest_match("EP", plan) == "ep");
  CHECK(closest_match("Tp", plan) == "tp");
}

TEST_CASE("closest_match prefers a prefix match to a candidate a few edits away") {
  // "dis" is 5 edits from "dispatch" (over the limit of 2) but starts it: a truncated key.
  const std::vector<std::string> precision = {"weights",   "activations", "kv_cache",
                                              "attention", "dispatch",    "combine"};
  CHECK(closest_match("dis", precision) == "dispatch");
  CHECK(closest_match("weightsx", precision) == "weights");  // the typed text starts with it
  // "fp8" starts both FP8 formats; the nearer by edit distance (fp8_tensor, 7 insertions)
  // wins over fp8_block128 (9), and both beat fp16, two edits away.
  const std::vector<std::string> formats = {"bf16",         "fp16",  "fp32", "fp8_tensor",
                                            "fp8_block128", "nvfp4", "mxfp4"};
  CHECK(closest_match("fp8", formats) == "fp8_tensor");
  // One shared letter is not a prefix match: "d" is not taken to mean "dispatch".
  CHECK(closest_match("d", precision).empty());
}

TEST_CASE("closest_match counts a swap as one slip and never suggests the typed text itself") {
  const std::vector<std::string> dtypes = {"fp4", "fp8", "bf16"};
  CHECK(closest_match("f8p", dtypes) == "fp8");  // one swap; fp4 is two substitutions
  // A caller that rejects a name in its context may still list it; suggesting it back would be
  // "found 'dis' (did you mean 'dis'?)".
  const std::vector<std::string> with_self = {"dis", "dispatch"};
  CHECK(closest_match("dis", with_self) == "dispatch");
  CHECK(closest_match("ep", std::vector<std::string>{"ep"}).empty());
  // On a tie, a swap beats a substitution: "fp8" is one edit from both.
  CHECK(closest_match("fp8", std::vector<std::string>{"fp4", "f8p"}) == "f8p");
}

}  // namespace
}  // namespace moesim
