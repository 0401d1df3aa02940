#pragma once
/// \file
/// ConfigNode: a YAML document as an immutable tree that remembers, for every node, the file,
/// line and column it came from and its key path ("gpus.h200.memory.bandwidth", "items[2].name").
/// Every reader throws moesim::ConfigError naming file:line:col, key path, what was expected and
/// what was found, with a "did you mean" where a close match exists. yaml-cpp stays inside
/// sim/config/*.cpp; this header does not include it.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/units.hpp"

namespace moesim::config {

namespace detail {
struct Node;  // defined in sim/config/detail_node.hpp, private to sim/config
}

/// A node of a loaded YAML document. Cheap to copy (shares the immutable tree).
class ConfigNode {
 public:
  /// What a node holds; an empty value ("key:", "~", "null") is kNull.
  enum class Kind { kNull, kScalar, kMap, kSequence };

  /// Loads and parses a YAML file (read with read_input_file, at most kMaxYamlFileBytes). A
  /// missing file, a device such as /dev/zero, a file too large or a YAML syntax error is a
  /// ConfigError.
  static ConfigNode load_file(const std::filesystem::path& path);
  /// Parses YAML text; `label` stands for the file name in error messages.
  static ConfigNode parse(std::string_view yaml_text, std::string label);

  /// What this node holds.
  Kind kind() const;
  /// Shorthands for kind() == ...
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_scalar() const { return kind() == Kind::kScalar; }
  bool is_map() const { return kind() == Kind::kMap; }
  bool is_sequence() const { return kind() == Kind::kSequence; }

  /// Where this node was written.
  const SourceLocation& location() const;
  /// Dotted key path from the document root; empty for the root. A resolved preset takes the
  /// path of the key that named it ("gpu.memory.capacity"), while its locations stay in the
  /// preset's file.
  const std::string& key_path() const { return path_; }

  // ---- maps ----
  /// True when this is a map holding `key`.
  bool has(std::string_view key) const;
  /// The value of a required key; a ConfigError (expected "key 'x'") when absent or when this is
  /// not a map. When a present key looks like a misspelling of `key` (closest_match), the error
  /// is at that key, found "key 'dis'", with `key` as the did-you-mean.
  ConfigNode at(std::string_view key) const;
  /// The value of an optional key, or std::nullopt (also when this node is empty); a
  /// ConfigError when this is a scalar or a sequence.
  std::optional<ConfigNode> get(std::string_view key) const;
  /// Keys of a map, in document order.
  std::vector<std::string> keys() const;
  /// (key, value) pairs of a map, in document order.
  std::vector<std::pair<std::string, ConfigNode>> entries() const;
  /// Rejects any key not in `allowed` with a ConfigError pointing at that key and suggesting the
  /// closest allowed key. Also fails when this is not a map.
  void check_keys(std::span<const std::string_view> allowed) const;
  void check_keys(std::initializer_list<std::string_view> allowed) const {
    check_keys(std::span<const std::string_view>(allowed.begin(), allowed.size()));
  }

  // ---- sequences ----
  /// Number of items of a sequence (ConfigError if not a sequence).
  std::size_t size() const;
  /// Item `i` of a sequence; its key path is "path[i]".
  ConfigNode operator[](std::size_t i) const;
  /// All items of a sequence.
  std::vector<ConfigNode> items() const;

  // ---- scalars (each throws ConfigError on a wrong kind or a malformed value) ----
  // Quantity readers take the forms of sim/core/unit_parse.hpp; a bare number is an error that
  // says the unit is missing.
  std::string as_string() const;  ///< any scalar, as written
  double as_double() const;       ///< finite decimal numbers only ("0.5", "1e-3")
  std::int64_t as_int() const;    ///< whole decimal numbers within int64 ("42", "-3")
  bool as_bool() const;           ///< true/false only
  /// One of `choices`, with a did-you-mean when it is not.
  std::string as_choice(std::span<const std::string_view> choices) const;
  std::string as_choice(std::initializer_list<std::string_view> choices) const {
    return as_choice(std::span<const std::string_view>(choices.begin(), choices.size()));
  }
  Bytes as_bytes() const;           ///< "141 GB", "96 GiB"
  Bandwidth as_bandwidth() const;   ///< "900 GB/s", "400 Gb/s"
  Duration as_duration() const;     ///< "2 us", "1.5 ms"
  FlopRate as_flop_rate() const;    ///< "2.25 PFLOP/s"
  Flops as_flops() const;           ///< "3 TFLOP"
  Power as_power() const;           ///< "1200 W"
  MoneyRate as_money_rate() const;  ///< "$2.10/h"

  /// What this node holds, for "found ..." in messages: a plain number or true/false as written
  /// (900), other scalars in double quotes ("900 GX/s"), "a map with keys a, b",
  /// "a sequence of 3 items", "an empty value".
  std::string describe() const;

  /// Throws a ConfigError at this node: expected `expected`, found describe() (or `found`).
  [[noreturn]] void fail(std::string expected, std::string found = {},
                         std::string suggestion = {}) const;

  /// Internal: wraps a tree node. Used by the loader and the override merge.
  ConfigNode(std::shared_ptr<const detail::Node> node, std::string path);
  /// Internal: the shared tree node. Used by the override merge.
  const std::shared_ptr<const detail::Node>& tree_node() const { return node_; }

 private:
  std::shared_ptr<const detail::Node> node_;
  std::string path_;
};

/// `base` with every key of `overrides` replaced, recursively for nested maps. A key in
/// `overrides` that `base` lacks is a ConfigError at that key, with a did-you-mean among the
/// base's keys. Sequences and scalars are replaced whole. Locations of replaced values point at
/// the override.
ConfigNode apply_overrides(const ConfigNode& base, const ConfigNode& overrides);

/// Loads the preset that a scalar node names (Catalog::resolver() makes one).
using PresetResolver = std::function<ConfigNode(const ConfigNode& name)>;

/// Resolves a preset reference. `node` may be
///   - a string: a preset name or path, resolved with `resolve`;
///   - a map `{preset: NAME, overrides: {...}}`: the preset with the overrides applied (other
///     keys are rejected with a did-you-mean);
///   - any other map: returned as is (an inline definition).
/// The result takes node's key path; anything else is a ConfigError at `node`.
ConfigNode resolve_preset(const ConfigNode& node, const PresetResolver& resolve);

/// What with_setting does with a map key that the document does not hold.
enum class MissingKeys {
  kError,  ///< a ConfigError with a did-you-mean (the reader accepts any key it finds)
  kAdd,    ///< add it, with maps for absent parents; for readers that check every map's keys
           ///< (check_keys) and so report a misspelt added key, located at the setting
};

/// Applies one command-line setting "a.b.c=value" (value parsed as YAML) to `root`; the path
/// may index sequences ("links[1].count=4"). With MissingKeys::kError every segment must already
/// exist; with kAdd an absent map key is added (an index must always exist). `label` names the
/// origin in errors and in the new value's location (e.g. "--set"), at line 1 and the column
/// within `assignment`. An unknown segment is a ConfigError with a did-you-mean. `root` is
/// unchanged.
ConfigNode with_setting(const ConfigNode& root, std::string_view assignment, std::string label,
                        MissingKeys missing = MissingKeys::kError);

}  // namespace moesim::config
