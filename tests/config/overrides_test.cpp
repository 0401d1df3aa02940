#include <doctest/doctest.h>

#include <string>

#include "sim/config/catalog.hpp"
#include "sim/config/config_node.hpp"
#include "test_util.hpp"

namespace moesim::config {
namespace {

std::string catalog_dir() { return std::string{MOESIM_TEST_DATA_DIR} + "/config/catalog"; }

std::string system_file(const std::string& name) {
  return catalog_dir() + "/topologies/systems/" + name;
}

using ::moesim::test::config_error;

const char* const kBase =
    "memory:\n"
    "  capacity: 141 GB\n"
    "  bandwidth: 4.8 TB/s\n"
    "tdp: 700 W\n"
    "links: [a, b]\n";

}  // namespace

TEST_CASE("overrides replace nested keys and keep the others") {
  const ConfigNode base = ConfigNode::parse(kBase, "base.yaml");
  const ConfigNode over =
      ConfigNode::parse("memory: {capacity: 96 GiB}\nlinks: [c]\n", "over.yaml");
  const ConfigNode merged = apply_overrides(base, over);
  CHECK(merged.at("memory").at("capacity").as_bytes() == gibibytes(96));
  CHECK(merged.at("memory").at("bandwidth").as_bandwidth() == terabytes_per_second(4.8));
  CHECK(merged.at("tdp").as_power() == watts(700));
  // Sequences are replaced whole: [a, b] becomes [c].
  REQUIRE(merged.at("links").size() == 1);
  CHECK(merged.at("links")[0].as_string() == "c");
  // The replaced value points at the override: `memory: {capacity: 96 GiB}` puts the value at
  // column 20 of line 1; the kept value still points at the base, line 3 column 14.
  CHECK(merged.at("memory").at("capacity").location().file == "over.yaml");
  CHECK(merged.at("memory").at("capacity").location().column == 20);
  CHECK(merged.at("memory").at("bandwidth").location().file == "base.yaml");
  CHECK(merged.at("memory").at("bandwidth").location().line == 3);
  // The inputs are unchanged.
  CHECK(base.at("memory").at("capacity").as_bytes() == bytes(141'000'000'000));
  CHECK(base.at("links").size() == 2);
}

TEST_CASE("overriding a key the base lacks is an error at the override") {
  const ConfigNode base = ConfigNode::parse(kBase, "base.yaml");
  const ConfigNode over = ConfigNode::parse("memory:\n  capcity: 96 GiB\n", "over.yaml");
  const ConfigError e = config_error([&] { apply_overrides(base, over); });
  // Line 2 of the override is `  capcity: 96 GiB`: the key is at column 3.
  CHECK(std::string{e.what()} ==
        "over.yaml:2:3: memory.capcity: expected an existing key to override: capacity, "
        "bandwidth, found unknown key 'capcity' (did you mean 'capacity'?)");
  const ConfigError top =
      config_error([&] { apply_overrides(base, ConfigNode::parse("tpd: 1 kW\n", "over.yaml")); });
  CHECK(top.suggestion() == "tdp");
  CHECK(top.key_path() == "tpd");
}

TEST_CASE("overrides must be a map and may be empty") {
  const ConfigNode base = ConfigNode::parse(kBase, "base.yaml");
  CHECK(config_error([&] { apply_overrides(base, ConfigNode::parse("[1]", "o")); }).expected() ==
        "a map of overrides");
  const ConfigNode same = apply_overrides(base, ConfigNode::parse("", "o"));
  CHECK(same.at("tdp").as_power() == watts(700));
}

TEST_CASE("a preset is resolved from a name, a preset map or an inline map") {
  const Catalog catalog(catalog_dir());
  const PresetResolver gpus = catalog.resolver("topologies/gpus");
  // A name.
  const ConfigNode by_name = resolve_preset(ConfigNode::parse("gpu: h100\n", "s").at("gpu"), gpus);
  CHECK(by_name.at("memory").at("capacity").as_bytes() == bytes(80'000'000'000));  // 80 GB
  CHECK(by_name.key_path() == "gpu");
  CHECK(by_name.at("tdp").key_path() == "gpu.tdp");
  // A preset with overrides, from a file.
  const ConfigNode system = ConfigNode::load_file(system_file("h200_96g.yaml"));
  const ConfigNode gpu = resolve_preset(system.at("gpu"), gpus);
  CHECK(gpu.at("memory").at("capacity").as_bytes() == gibibytes(96));
  CHECK(gpu.at("memory").at("bandwidth").as_bandwidth() == terabytes_per_second(4.8));
  CHECK(gpu.at("name").as_string() == "h200");
  // Line 7 of h200_96g.yaml is `    memory: {capacity: "96 GiB"}`: the value is at column 24.
  CHECK(gpu.at("memory").at("capacity").location().file == system_file("h200_96g.yaml"));
  CHECK(gpu.at("memory").at("capacity").location().line == 7);
  CHECK(gpu.at("memory").at("capacity").location().column == 24);
  // An inline map is returned as is.
  const ConfigNode inline_gpu =
      resolve_preset(ConfigNode::parse("gpu: {name: x}\n", "s").at("gpu"), gpus);
  CHECK(inline_gpu.at("name").as_string() == "x");
}

TEST_CASE("a preset override of a key the preset lacks names the override's location") {
  const Catalog catalog(catalog_dir());
  const ConfigNode system = ConfigNode::load_file(system_file("bad_override.yaml"));
  const ConfigError e =
      config_error([&] { resolve_preset(system.at("gpu"), catalog.resolver("topologies/gpus")); });
  // Line 7 of bad_override.yaml is `      capcity: "96 GiB"`: the key is at column 7.
  CHECK(std::string{e.what()} == system_file("bad_override.yaml") +
                                     ":7:7: gpu.overrides.memory.capcity: expected an existing "
                                     "key to override: capacity, bandwidth, found unknown key "
                                     "'capcity' (did you mean 'capacity'?)");
}

TEST_CASE("a preset map with a misspelt key or a sequence is rejected") {
  const Catalog catalog(catalog_dir());
  const ConfigNode n =
      ConfigNode::parse("gpu: {preset: h200, overides: {tdp: 1 kW}}\nbad: [1]\n", "s");
  const ConfigError e =
      config_error([&] { resolve_preset(n.at("gpu"), catalog.resolver("topologies/gpus")); });
  CHECK(e.key_path() == "gpu.overides");
  CHECK(e.suggestion() == "overrides");
  const ConfigError seq =
      config_error([&] { resolve_preset(n.at("bad"), catalog.resolver("topologies/gpus")); });
  CHECK(seq.expected() == "a preset name, a map {preset: NAME, overrides: {...}} or an inline map");
}

TEST_CASE("a command-line setting replaces an existing value, parsed as YAML") {
  const ConfigNode base = ConfigNode::parse(kBase, "base.yaml");
  const ConfigNode set = with_setting(base, "memory.capacity=96 GiB", "--set");
  CHECK(set.at("memory").at("capacity").as_bytes() == gibibytes(96));
  // "memory.capacity=" is 16 characters: the value starts at column 17 of the setting.
  CHECK(set.at("memory").at("capacity").location().file == "--set");
  CHECK(set.at("memory").at("capacity").location().line == 1);
  CHECK(set.at("memory").at("capacity").location().column == 17);
  CHECK(set.at("memory").at("bandwidth").as_bandwidth() == terabytes_per_second(4.8));
  CHECK(base.at("memory").at("capacity").as_bytes() == bytes(141'000'000'000));  // unchanged
  const ConfigNode map = with_setting(base, "memory={capacity: 1 GB}", "--set");
  CHECK(map.at("memory").keys() == std::vector<std::string>{"capacity"});
  const ConfigNode item = with_setting(base, "links[1]=z", "--set");
  CHECK(item.at("links")[1].as_string() == "z");
  CHECK(item.at("links")[0].as_string() == "a");
}

TEST_CASE("a setting with an unknown key segment suggests the nearest key") {
  const ConfigNode base = ConfigNode::parse(kBase, "base.yaml");
  const ConfigError e = config_error([&] { with_setting(base, "memory.capcity=96 GiB", "--set"); });
  // "capcity" starts at column 8 of the setting.
  CHECK(std::string{e.what()} ==
        "--set:1:8: memory.capcity: expected one of the keys: capacity, bandwidth, found unknown "
        "key 'capcity' (did you mean 'capacity'?)");
  const ConfigError top =
      config_error([&] { with_setting(base, "memroy.capacity=1 GB", "--set"); });
  CHECK(top.suggestion() == "memory");
  CHECK(top.where().column == 1);
}

TEST_CASE("a setting may add absent map keys when the reader checks keys itself") {
  const ConfigNode base = ConfigNode::parse(kBase, "base.yaml");
  const ConfigNode added = with_setting(base, "cooling.inlet.max=45", "--set", MissingKeys::kAdd);
  CHECK(added.at("cooling").at("inlet").at("max").as_int() == 45);
  // Added maps are located at their segment ("cooling.": "inlet" starts at column 9), the value
  // after the '=' ("cooling.inlet.max=" is 18 characters).
  CHECK(added.at("cooling").at("inlet").location().column == 9);
  CHECK(added.at("cooling").at("inlet").at("max").location().column == 19);
  CHECK(added.at("memory").at("capacity").as_bytes() == bytes(141'000'000'000));  // kept
  const ConfigNode sibling =
      with_setting(base, "memory.latency=600 ns", "--set", MissingKeys::kAdd);
  CHECK(sibling.at("memory").keys() ==
        std::vector<std::string>{"capacity", "bandwidth", "latency"});
  // An index never extends a sequence, and a scalar never becomes a map.
  CHECK(config_error([&] {
          with_setting(base, "links[5]=z", "--set", MissingKeys::kAdd);
        }).expected() == "an index below 2");
  CHECK(config_error([&] {
          with_setting(base, "tdp.x=1", "--set", MissingKeys::kAdd);
        }).expected() == "a map holding key 'x'");
  // The default stays strict.
  CHECK(config_error([&] { with_setting(base, "cooling=1", "--set"); }).key_path() == "cooling");
}

TEST_CASE("malformed settings are rejected") {
  const ConfigNode base = ConfigNode::parse(kBase, "base.yaml");
  CHECK(config_error([&] { with_setting(base, "memory.capacity", "--set"); }).expected() ==
        "a setting such as \"gpu.memory.capacity=96 GiB\"");
  CHECK(config_error([&] { with_setting(base, "=1", "--set"); }).found() == "\"=1\"");
  CHECK(
      config_error([&] { with_setting(base, "memory..capacity=1 GB", "--set"); }).where().column ==
      8);
  CHECK(config_error([&] { with_setting(base, "tdp=", "--set"); }).expected() ==
        "a value after '='");
  CHECK(config_error([&] { with_setting(base, "tdp.x=1", "--set"); }).expected() ==
        "a map holding key 'x'");
  CHECK(config_error([&] { with_setting(base, "links[5]=1", "--set"); }).expected() ==
        "an index below 2");
  CHECK(config_error([&] { with_setting(base, "links[x]=1", "--set"); }).where().column == 6);
  CHECK(config_error([&] { with_setting(base, "tdp={a: 1", "--set"); }).expected() ==
        "valid YAML syntax");
}

}  // namespace moesim::config
