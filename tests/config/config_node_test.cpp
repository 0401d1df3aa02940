#include "sim/config/config_node.hpp"

#include <doctest/doctest.h>

#include <string>

#include "test_util.hpp"

namespace moesim::config {
namespace {

std::string fixture(const std::string& name) {
  return std::string{MOESIM_TEST_DATA_DIR} + "/config/" + name;
}

/// Runs `f` and returns the ConfigError it throws; fails the test if none.
using ::moesim::test::config_error;

}  // namespace

TEST_CASE("a loaded file reads every typed value") {
  const ConfigNode gpu = ConfigNode::load_file(fixture("gpu_h200.yaml"));
  CHECK(gpu.at("name").as_string() == "h200");
  CHECK(gpu.at("arch").as_choice({"hopper", "blackwell"}) == "hopper");
  CHECK(gpu.at("sms").as_int() == 132);
  CHECK(gpu.at("memory").at("capacity").as_bytes() == bytes(141'000'000'000));  // 141 x 10^9
  CHECK(gpu.at("memory").at("bandwidth").as_bandwidth() == terabytes_per_second(4.8));
  CHECK(gpu.at("peak_dense").at("bf16").as_flop_rate() == teraflop_per_second(989.4));
  CHECK(gpu.at("tdp").as_power() == watts(700));
  CHECK(gpu.at("nvlink_per_direction").as_bandwidth() == gigabytes_per_second(450));
  CHECK(gpu.at("nic").as_bandwidth() == gigabits_per_second(400));  // 400 / 8 = 50 GB/s
  CHECK(gpu.at("launch_overhead").as_duration() == microseconds(2));
  CHECK(gpu.at("price").as_money_rate() == usd_per_hour(6.31));
  CHECK(gpu.at("gemm_efficiency").as_double() == 0.75);
  CHECK_FALSE(gpu.at("has_fp4").as_bool());
  CHECK(gpu.at("step_work").as_flops() == flops(3.2 * scale::kTera));
  REQUIRE(gpu.at("links").size() == 2);
  CHECK(gpu.at("links")[0].at("name").as_string() == "nvlink");
  CHECK(gpu.at("links")[1].at("count").as_int() == 1);
}

TEST_CASE("every node knows its file, 1-based line and column, and key path") {
  const ConfigNode gpu = ConfigNode::load_file(fixture("gpu_h200.yaml"));
  // Line 9 is `  bandwidth: "4.8 TB/s"`: two spaces and "bandwidth: " (11 characters) put the
  // value at column 14.
  const ConfigNode bw = gpu.at("memory").at("bandwidth");
  CHECK(bw.location().file == fixture("gpu_h200.yaml"));
  CHECK(bw.location().line == 9);
  CHECK(bw.location().column == 14);
  CHECK(bw.key_path() == "memory.bandwidth");
  // Line 22 is `  - {name: pcie, count: 1}`: the 1 is the 25th character.
  const ConfigNode count = gpu.at("links")[1].at("count");
  CHECK(count.location().line == 22);
  CHECK(count.location().column == 25);
  CHECK(count.key_path() == "links[1].count");
  // The root map starts at its first key, line 4 column 1; its key path is empty.
  CHECK(gpu.location().line == 4);
  CHECK(gpu.location().column == 1);
  CHECK(gpu.key_path().empty());
}

TEST_CASE("maps keep document order and optional keys read as nullopt") {
  const ConfigNode n = ConfigNode::parse("b: 1\na: 2\nc: {x: 3}\n", "inline");
  CHECK(n.keys() == std::vector<std::string>{"b", "a", "c"});
  const auto entries = n.entries();
  REQUIRE(entries.size() == 3);
  CHECK(entries[2].first == "c");
  CHECK(entries[2].second.key_path() == "c");
  CHECK(entries[2].second.at("x").key_path() == "c.x");
  CHECK(n.has("a"));
  CHECK_FALSE(n.has("z"));
  CHECK_FALSE(n.get("z").has_value());
  CHECK(n.get("a")->as_int() == 2);
  CHECK(n.is_map());
  CHECK(n.at("a").is_scalar());
}

TEST_CASE("an unknown key is reported at the key with a did-you-mean") {
  const ConfigNode gpu = ConfigNode::load_file(fixture("errors/broken_gpu.yaml"));
  const ConfigError e = config_error([&] {
    gpu.at("memory").check_keys({"capacity", "bandwidth"});
  });
  // Line 5 is `  capcity: "141 GB"`: the key starts at column 3.
  CHECK(std::string{e.what()} == fixture("errors/broken_gpu.yaml") +
                                     ":5:3: memory.capcity: expected one of the keys: capacity, "
                                     "bandwidth, found unknown key 'capcity' (did you mean "
                                     "'capacity'?)");
  CHECK(e.where().line == 5);
  CHECK(e.where().column == 3);
  CHECK(e.key_path() == "memory.capcity");
  CHECK(e.suggestion() == "capacity");
}

TEST_CASE("a missing key is reported at the key that misspells it, else at its map") {
  const ConfigNode gpu = ConfigNode::load_file(fixture("errors/broken_gpu.yaml"));
  const ConfigError e = config_error([&] { gpu.at("memory").at("capacity"); });
  // Line 5 is `  capcity: "141 GB"`, one edit from the missing `capacity`. (Before: the error
  // was at the map and suggested the misspelling back, "did you mean 'capcity'?".)
  CHECK(std::string{e.what()} == fixture("errors/broken_gpu.yaml") +
                                     ":5:3: memory.capcity: expected key 'capacity', found key "
                                     "'capcity' (did you mean 'capacity'?)");
  const ConfigError root = config_error([&] { gpu.at("power"); });
  CHECK(root.found().starts_with("a map with keys"));
  CHECK(root.key_path().empty());
  CHECK(std::string{root.what()}.find(": <root>: expected key 'power'") != std::string::npos);
}

TEST_CASE("a value of the wrong type names what was expected") {
  const ConfigNode gpu = ConfigNode::load_file(fixture("errors/broken_gpu.yaml"));
  const ConfigError e = config_error([&] { gpu.at("sms").as_int(); });
  // Line 3 is `sms: many`: the value starts at column 6.
  CHECK(std::string{e.what()} ==
        fixture("errors/broken_gpu.yaml") + ":3:6: sms: expected an integer, found \"many\"");
  const ConfigError choice = config_error([&] {
    gpu.at("interconnect").as_choice({"nvlink", "pcie"});
  });
  // Line 8 is `interconnect: nvlnik`: the value starts at column 15.
  CHECK(std::string{choice.what()} == fixture("errors/broken_gpu.yaml") +
                                          ":8:15: interconnect: expected one of: nvlink, pcie, "
                                          "found \"nvlnik\" (did you mean 'nvlink'?)");
}

TEST_CASE("a bad unit is reported at the value with the accepted form") {
  const ConfigNode gpu = ConfigNode::load_file(fixture("errors/broken_gpu.yaml"));
  const ConfigError e = config_error([&] { gpu.at("tdp").as_power(); });
  // Line 7 is `tdp: "700 Watts"`: the quoted value starts at column 6.
  CHECK(std::string{e.what()} == fixture("errors/broken_gpu.yaml") +
                                     ":7:6: tdp: expected a power such as \"1200 W\" or "
                                     "\"1.2 kW\", found \"700 Watts\"");
}

TEST_CASE("a bare number where a quantity is expected says the unit is missing") {
  const ConfigNode gpu = ConfigNode::load_file(fixture("errors/broken_gpu.yaml"));
  const ConfigError e = config_error([&] { gpu.at("memory").at("bandwidth").as_bandwidth(); });
  // Line 6 is `  bandwidth: 4800`: the value starts at column 14; a plain number is shown bare.
  CHECK(std::string{e.what()} == fixture("errors/broken_gpu.yaml") +
                                     ":6:14: memory.bandwidth: expected a data rate with its "
                                     "unit, such as \"900 GB/s\", found 4800");
  // A quoted number is a string: shown in quotes, still missing its unit.
  const ConfigNode q = ConfigNode::parse("bw: \"900\"\n", "inline");
  CHECK(config_error([&] { q.at("bw").as_bandwidth(); }).found() == "\"900\"");
}

TEST_CASE("a YAML syntax error carries the parser's line and column") {
  const ConfigError e =
      config_error([] { ConfigNode::load_file(fixture("errors/syntax_error.yaml")); });
  // The flow map opened on line 3 is still open when line 4 starts a block key: yaml-cpp stops
  // at the first character of line 4 ("end of map flow not found").
  CHECK(e.where().file == fixture("errors/syntax_error.yaml"));
  CHECK(e.where().line == 4);
  CHECK(e.where().column == 1);
  CHECK(e.expected() == "valid YAML syntax");
  CHECK(e.found().starts_with("a syntax error ("));
  CHECK(std::string{e.what()}.starts_with(fixture("errors/syntax_error.yaml") +
                                          ":4:1: <root>: expected valid YAML syntax, found a "
                                          "syntax error (end of map flow not found)"));
}

TEST_CASE("a key given twice in one map is an error at the second") {
  const ConfigError e =
      config_error([] { ConfigNode::load_file(fixture("errors/duplicate_key.yaml")); });
  // Line 5 is `  bandwidth: "4.9 TB/s"`; the first bandwidth is on line 3.
  CHECK(std::string{e.what()} == fixture("errors/duplicate_key.yaml") +
                                     ":5:3: memory.bandwidth: expected each key at most once in "
                                     "a map, found 'bandwidth' again (first at line 3)");
}

TEST_CASE("a missing file is a ConfigError naming the path") {
  const ConfigError e = config_error([] { ConfigNode::load_file(fixture("no_such.yaml")); });
  CHECK(std::string{e.what()} ==
        fixture("no_such.yaml") + ": <root>: expected a readable YAML file, found no such file");
  const ConfigError dir = config_error([] { ConfigNode::load_file(fixture("errors")); });
  CHECK(dir.found() == "a directory");
}

TEST_CASE("scalar readers reject malformed values") {
  const ConfigNode n = ConfigNode::parse(
      "flag: yes\nratio: abc\nbig: 9223372036854775808\nhalf: 1.5\ninf: .inf\nnan: nan\n"
      "list: [1, 2]\nmap: {a: 1}\nempty:\nneg: -3\nplus: +2.5\n",
      "inline");
  CHECK(config_error([&] { n.at("flag").as_bool(); }).expected() == "true or false");
  CHECK(config_error([&] { n.at("ratio").as_double(); }).expected() == "a number");
  // 2^63 = 9,223,372,036,854,775,808 is one past the int64 maximum.
  CHECK(config_error([&] { n.at("big").as_int(); }).expected() == "an integer within 64 bits");
  CHECK(config_error([&] { n.at("half").as_int(); }).expected() == "an integer");
  CHECK(config_error([&] { n.at("inf").as_double(); }).expected() == "a number");
  CHECK(config_error([&] { n.at("nan").as_double(); }).expected() == "a finite number");
  CHECK(config_error([&] { n.at("list").as_string(); }).found() == "a sequence of 2 items");
  CHECK(config_error([&] { n.at("map").as_double(); }).found() == "a map with key a");
  CHECK(config_error([&] { n.at("empty").as_bytes(); }).found() == "an empty value");
  CHECK(config_error([&] { n.at("map").as_bandwidth(); }).expected() ==
        "a data rate such as \"900 GB/s\" or \"400 Gb/s\"");
  CHECK(n.at("neg").as_int() == -3);
  CHECK(n.at("plus").as_double() == 2.5);
  CHECK(n.at("half").as_double() == 1.5);
}

TEST_CASE("an empty value is located at its key") {
  const ConfigNode n = ConfigNode::parse("a: 1\nempty:\nb: 2\n", "inline");
  // yaml-cpp marks an empty value at the next token (line 3); the key on line 2 is more useful.
  CHECK(n.at("empty").is_null());
  CHECK(n.at("empty").location().line == 2);
  CHECK(n.at("empty").location().column == 1);
  CHECK_FALSE(n.at("empty").get("x").has_value());  // an empty section has no keys
}

TEST_CASE("sequence and map accessors reject the other kinds") {
  const ConfigNode n = ConfigNode::parse("items: [a, b]\nname: x\n", "inline");
  const ConfigError idx = config_error([&] { n.at("items")[2]; });
  CHECK(idx.expected() == "a sequence of at least 3 items");
  CHECK(idx.key_path() == "items");
  CHECK(config_error([&] { n.at("name").at("x"); }).expected() == "a map with key 'x'");
  CHECK(config_error([&] { n.at("name").size(); }).expected() == "a sequence");
  CHECK(config_error([&] { n.at("items").keys(); }).expected() == "a map");
  CHECK(config_error([&] { n.at("items").check_keys({"a"}); }).expected() ==
        "a map with keys among: a");
  CHECK(config_error([&] { n.at("name").get("x"); }).expected() == "a map");
  CHECK(n.at("items")[1].key_path() == "items[1]");
  CHECK(n.at("items")[1].as_string() == "b");
}

TEST_CASE("describe quotes strings and shows numbers and booleans as written") {
  const ConfigNode n = ConfigNode::parse(
      "n: 900\ns: 900 GX/s\nq: \"900\"\nb: true\nm: {a: 1, b: 2}\ne: {}\nl: []\n", "inline");
  CHECK(n.at("n").describe() == "900");
  CHECK(n.at("s").describe() == "\"900 GX/s\"");
  CHECK(n.at("q").describe() == "\"900\"");
  CHECK(n.at("b").describe() == "true");
  CHECK(n.at("m").describe() == "a map with keys a, b");
  CHECK(n.at("e").describe() == "an empty map");
  CHECK(n.at("l").describe() == "an empty sequence");
}

TEST_CASE("fail throws at the node with the given expectation") {
  const ConfigNode n = ConfigNode::parse("tp: 3\n", "inline");
  const ConfigError e = config_error([&] { n.at("tp").fail("a power of two", {}, "4"); });
  // Line 1 `tp: 3`: the value is at column 5.
  CHECK(std::string{e.what()} ==
        "inline:1:5: tp: expected a power of two, found 3 (did you mean '4'?)");
}

TEST_CASE("a recursive alias and several documents are rejected") {
  const ConfigError cyclic = config_error([] { ConfigNode::parse("a: &x [*x]\n", "inline"); });
  CHECK(cyclic.expected().starts_with("nesting at most"));
  const ConfigError docs = config_error([] { ConfigNode::parse("a: 1\n---\nb: 2\n", "inline"); });
  CHECK(docs.expected() == "a single YAML document");
  CHECK(docs.found() == "2 documents");
}

TEST_CASE("a token that starts no document is a syntax error, not an endless parse") {
  // Found by the fuzz test: yaml-cpp 0.7's LoadAll() looped forever, allocating, on a ',' after
  // a document ("{}," or a JSON object closed twice).
  for (const char* text : {"{},", "[],", ",", "a: 1\n},\n"}) {
    const ConfigError e = config_error([&] { ConfigNode::parse(text, "inline"); });
    CHECK_MESSAGE(e.expected() == "valid YAML syntax", text);
  }
  const ConfigError stray = config_error([] { ConfigNode::parse("{},", "inline"); });
  CHECK(stray.found() == "a syntax error (a token that starts no document)");
  CHECK(stray.where().column == 3);  // the ','
}

TEST_CASE("a file that never ends is rejected at once instead of read until memory runs out") {
  // Found by the fuzz test: `moesim import hf /dev/full` read zeros forever.
  const ConfigError e = config_error([] { ConfigNode::load_file("/dev/zero"); });
  CHECK(e.expected() == "a readable YAML file (a regular file or a pipe)");
}

TEST_CASE("a missing required key points at the present key that misspells it") {
  // Before: the suggestion was the closest *present* key, which is what the user typed:
  // `dis` for `dist` said "did you mean 'dis'?", `EP` for `ep` said "did you mean 'tp'?" (one
  // edit from "ep", the case-sensitive "EP" two), `f8p` for `fp8` said "did you mean 'fp4'?".
  const ConfigNode dist = ConfigNode::parse("len: {mean: 10, dis: lognormal}", "inline");
  const ConfigError e = config_error([&] { dist.at("len").at("dist"); });
  CHECK(e.key_path() == "len.dis");
  CHECK(e.where().column == 17);  // `dis` starts at column 17
  CHECK(e.expected() == "key 'dist'");
  CHECK(e.found() == "key 'dis'");
  CHECK(e.suggestion() == "dist");
  const ConfigNode plan = ConfigNode::parse("{tp: 8, EP: 8}", "inline");
  const ConfigError ep = config_error([&] { plan.at("ep"); });
  CHECK(ep.found() == "key 'EP'");
  CHECK(ep.suggestion() == "ep");
  // "fp4" and "f8p" are both one edit from "fp8"; the swap is the likelier slip.
  const ConfigNode peaks = ConfigNode::parse("{fp4: 1, f8p: 2}", "inline");
  CHECK(config_error([&] { peaks.at("fp8"); }).found() == "key 'f8p'");
  // With no present key near it, the error is at the map, with no suggestion.
  const ConfigError far = config_error([&] { plan.at("attention_dp"); });
  CHECK(far.found() == "a map with keys tp, EP");
  CHECK(far.suggestion().empty());
}

TEST_CASE("a map used as a key is rejected") {
  const ConfigError e = config_error([] { ConfigNode::parse("? {a: 1}\n: 2\n", "inline"); });
  CHECK(e.expected() == "a plain key");
  CHECK(e.found() == "a map used as a key");
}

TEST_CASE("an empty document is an empty value") {
  const ConfigNode n = ConfigNode::parse("", "inline");
  CHECK(n.is_null());
  CHECK(config_error([&] { n.at("x"); }).expected() == "a map with key 'x'");
}

}  // namespace moesim::config
