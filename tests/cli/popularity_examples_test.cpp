// Every expert-popularity example the documentation shows parses with the parser the commands
// use (llm::parse_popularity, which `explain --popularity` and a scenario's routing.popularity go
// through). The examples are extracted from the text users read, so a new example that does not
// parse fails here: `moesim explain --help`, `moesim explain --schema` (the scenario schema) and
// README.md.
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"
#include "sim/llm/expert_popularity.hpp"
#include "tests/cli/cli_test_util.hpp"

namespace moesim {
namespace {

using cli_test::run_moesim;

/// Every "{kind: ...}" in `text`, its line breaks and indentation collapsed to single spaces (the
/// help and the README wrap examples across lines). No example nests braces.
std::vector<std::string> popularity_examples(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = text.find("{kind:"); at != std::string::npos;
       at = text.find("{kind:", at + 1)) {
    const std::size_t close = text.find('}', at);
    REQUIRE(close != std::string::npos);
    std::string example;
    for (std::size_t i = at; i <= close; ++i) {
      const bool space = std::isspace(static_cast<unsigned char>(text[i])) != 0;
      if (!space) {
        example += text[i];
      } else if (example.back() != ' ') {
        example += ' ';
      }
    }
    out.push_back(example);
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Parses `example` for DeepSeek-R1's 256 routed experts in 58 MoE layers. A counts example
/// names a file of the user's: it passes when only that file is missing.
void check_parses(const std::string& example, const std::string& where) {
  INFO(where << ": " << example);
  try {
    (void)llm::parse_popularity(config::ConfigNode::parse(example, where), 256, 58);
  } catch (const ConfigError& e) {
    const bool counts_file = example.starts_with("{kind: counts,") && e.key_path() == "file" &&
                             e.expected() == "an existing counts file";
    CHECK_MESSAGE(counts_file, e.what());
  }
}

TEST_CASE("every documented expert-popularity example parses") {
  // Before: '{kind: zipf, exponent: 1}' (explain --help) and '{kind: zipf, exponent: 0.6}'
  // (the schema's --set example and the README) failed, `order` being required.
  const std::vector<std::pair<std::string, int>> sources = {
      // (where, examples at least there: a lower bound, so extraction cannot silently miss)
      {"explain --help", 1},
      {"explain --schema", 3},
      {"README.md", 4}};
  for (const auto& [where, at_least] : sources) {
    std::string text;
    if (where == "README.md") {
      text = read_text(std::string(MOESIM_SOURCE_DIR) + "/README.md");
    } else {
      const cli_test::Result r = run_moesim(where);
      REQUIRE(r.status == 0);
      text = r.output;
    }
    const std::vector<std::string> examples = popularity_examples(text);
    CHECK_MESSAGE(examples.size() >= static_cast<std::size_t>(at_least), where);
    for (const std::string& e : examples) check_parses(e, where);
  }
  // The scalar form, offered beside the maps in explain --help and the schema.
  check_parses("uniform", "explain --help");
}

TEST_CASE("a Zipf popularity without order ranks experts in a shuffled order per layer") {
  // The documented short form means order: shuffled (sim/llm/expert_popularity.hpp).
  const auto parse = [](const char* yaml) {
    return llm::parse_popularity(config::ConfigNode::parse(yaml, "--popularity"), 256, 58);
  };
  const llm::ExpertPopularity short_form = parse("{kind: zipf, exponent: 1}");
  CHECK(short_form.describe() == parse("{kind: zipf, exponent: 1, order: shuffled}").describe());
  CHECK_FALSE(short_form.same_for_all_layers());
  CHECK(parse("{kind: zipf, exponent: 1, order: identity}").same_for_all_layers());
}

}  // namespace
}  // namespace moesim
