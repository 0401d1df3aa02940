// Merging of presets with overrides, and "--set a.b.c=value" settings. Both rebuild only the
// path from the root to the replaced value; the rest of the tree stays shared.

#include <algorithm>
#include <charconv>
#include <span>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/config/detail_node.hpp"
#include "sim/core/suggest.hpp"

namespace moesim::config {
namespace {

using detail::Node;
using NodePtr = std::shared_ptr<const Node>;

std::vector<std::string> keys_of(const Node& node) {
  std::vector<std::string> out;
  for (const auto& e : node.entries) out.push_back(e.key);
  return out;
}

/// `base` (a map) with the entries of `over` (a map at `over_path`) merged in.
NodePtr merge(const NodePtr& base, const Node& over, const std::string& over_path) {
  auto out = std::make_shared<Node>(*base);
  for (const auto& o : over.entries) {
    const std::string path = detail::child_path(over_path, o.key);
    auto it = std::find_if(out->entries.begin(), out->entries.end(),
                           [&](const detail::MapEntry& e) { return e.key == o.key; });
    if (it == out->entries.end()) {
      const std::vector<std::string> keys = keys_of(*base);
      throw ConfigError(o.key_location, path,
                        "an existing key to override: " + detail::join_names(keys),
                        "unknown key '" + o.key + "'", closest_match(o.key, keys));
    }
    if (it->value->kind == ConfigNode::Kind::kMap && o.value->kind == ConfigNode::Kind::kMap) {
      it->value = merge(it->value, *o.value, path);
    } else {
      it->value = o.value;
    }
    it->key_location = o.key_location;
  }
  return out;
}

/// One step of a setting's key path: a map key or a sequence index, and its column.
struct Step {
  std::string key;  ///< empty for an index
  std::size_t index = 0;
  int column = 1;
};

[[noreturn]] void bad_setting(const std::string& label, int column, std::string_view assignment) {
  throw ConfigError({label, 1, column}, "", "a setting such as \"gpu.memory.capacity=96 GiB\"",
                    "\"" + std::string{assignment} + "\"");
}

/// Splits "a.b[2].c" into steps; `column` is 1-based within the whole assignment.
std::vector<Step> split_key_path(std::string_view key, const std::string& label,
                                 std::string_view assignment) {
  std::vector<Step> steps;
  std::size_t i = 0;
  while (true) {
    const std::size_t begin = i;
    while (i < key.size() && key[i] != '.' && key[i] != '[') ++i;
    if (i == begin) bad_setting(label, static_cast<int>(begin) + 1, assignment);
    steps.push_back({std::string{key.substr(begin, i - begin)}, 0, static_cast<int>(begin) + 1});
    while (i < key.size() && key[i] == '[') {
      const std::size_t close = key.find(']', i);
      std::size_t index = 0;
      const auto [end, ec] = std::from_chars(key.data() + i + 1, key.data() + close, index);
      if (close == std::string_view::npos || ec != std::errc{} || end != key.data() + close ||
          close == i + 1) {
        bad_setting(label, static_cast<int>(i) + 1, assignment);
      }
      steps.push_back({"", index, static_cast<int>(i) + 1});
      i = close + 1;
    }
    if (i == key.size()) return steps;
    if (key[i] != '.') bad_setting(label, static_cast<int>(i) + 1, assignment);
    ++i;
  }
}

/// `at` (reached by `path`) with the value at steps[k..] replaced by `value`.
NodePtr replace(const NodePtr& at, const std::string& path, std::span<const Step> steps,
                const NodePtr& value, const std::string& label, MissingKeys missing) {
  if (steps.empty()) return value;
  const Step& s = steps.front();
  const ConfigNode here(at, path);
  auto out = std::make_shared<Node>(*at);
  if (!s.key.empty()) {
    const std::string child = detail::child_path(path, s.key);
    if (!here.is_map()) {
      throw ConfigError({label, 1, s.column}, path, "a map holding key '" + s.key + "'",
                        here.describe());
    }
    auto it = std::find_if(out->entries.begin(), out->entries.end(),
                           [&](const detail::MapEntry& e) { return e.key == s.key; });
    if (it == out->entries.end() && missing == MissingKeys::kAdd) {
      const SourceLocation where{label, 1, s.column};
      auto empty_map = std::make_shared<Node>();
      empty_map->kind = ConfigNode::Kind::kMap;
      empty_map->location = where;
      out->entries.push_back(
          {s.key, where, replace(empty_map, child, steps.subspan(1), value, label, missing)});
      return out;
    }
    if (it == out->entries.end()) {
      const std::vector<std::string> keys = keys_of(*at);
      throw ConfigError({label, 1, s.column}, child, "one of the keys: " + detail::join_names(keys),
                        "unknown key '" + s.key + "'", closest_match(s.key, keys));
    }
    it->value = replace(it->value, child, steps.subspan(1), value, label, missing);
    if (steps.size() == 1) it->key_location = {label, 1, s.column};
    return out;
  }
  const std::string child = detail::index_path(path, s.index);
  if (!here.is_sequence() || s.index >= at->items.size()) {
    const std::string n = here.is_sequence() ? std::to_string(at->items.size()) : "0";
    throw ConfigError({label, 1, s.column}, child, "an index below " + n, here.describe());
  }
  out->items[s.index] = replace(at->items[s.index], child, steps.subspan(1), value, label, missing);
  return out;
}

}  // namespace

ConfigNode apply_overrides(const ConfigNode& base, const ConfigNode& overrides) {
  if (overrides.is_null()) return base;
  if (!overrides.is_map()) overrides.fail("a map of overrides");
  if (!base.is_map()) base.fail("a map whose keys can be overridden");
  return ConfigNode(merge(base.tree_node(), *overrides.tree_node(), overrides.key_path()),
                    base.key_path());
}

ConfigNode resolve_preset(const ConfigNode& node, const PresetResolver& resolve) {
  if (node.is_scalar()) return ConfigNode(resolve(node).tree_node(), node.key_path());
  if (node.is_map() && node.has("preset")) {
    node.check_keys({"preset", "overrides"});
    ConfigNode merged = resolve(node.at("preset"));
    if (const auto overrides = node.get("overrides")) merged = apply_overrides(merged, *overrides);
    return ConfigNode(merged.tree_node(), node.key_path());
  }
  if (node.is_map()) return node;
  node.fail("a preset name, a map {preset: NAME, overrides: {...}} or an inline map");
}

ConfigNode with_setting(const ConfigNode& root, std::string_view assignment, std::string label,
                        MissingKeys missing) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos || eq == 0) bad_setting(label, 1, assignment);
  std::string_view key = assignment.substr(0, eq);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  const std::string_view value = assignment.substr(eq + 1);
  const int value_column = static_cast<int>(eq) + 2;
  if (value.find_first_not_of(" \t") == std::string_view::npos) {
    throw ConfigError({label, 1, value_column}, std::string{key}, "a value after '='", "nothing");
  }
  const std::vector<Step> steps = split_key_path(key, label, assignment);
  const NodePtr parsed = detail::build_tree(value, detail::TextOrigin{label, 1, value_column});
  return ConfigNode(replace(root.tree_node(), root.key_path(), steps, parsed, label, missing),
                    root.key_path());
}

}  // namespace moesim::config
