// ConfigNode navigation and typed readers. Every failure is a ConfigError at the node that
// holds the bad value.

#include "sim/config/config_node.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "sim/config/detail_node.hpp"
#include "sim/core/assert.hpp"
#include "sim/core/suggest.hpp"
#include "sim/core/unit_parse.hpp"

namespace moesim::config {
namespace {

/// Longest scalar text quoted whole in a message; longer text is cut with "...".
inline constexpr std::size_t kMaxShownChars = 60;
/// Most keys of a map listed by describe().
inline constexpr std::size_t kMaxShownKeys = 6;

bool is_number(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

std::vector<std::string> to_strings(std::span<const std::string_view> names) {
  return {names.begin(), names.end()};
}

const detail::MapEntry* find_entry(const detail::Node& node, std::string_view key) {
  for (const auto& e : node.entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

/// Reads one quantity: UnitError becomes a ConfigError at `node`, found = node.describe().
template <class Parse>
auto read_quantity(const ConfigNode& node, QuantityKind kind, Parse parse) {
  if (!node.is_scalar()) node.fail(quantity_form(kind));
  try {
    return parse(node.as_string());
  } catch (const UnitError& e) {
    node.fail(e.expected());
  }
}

}  // namespace

ConfigNode::ConfigNode(std::shared_ptr<const detail::Node> node, std::string path)
    : node_(std::move(node)), path_(std::move(path)) {
  MOESIM_ASSERT(node_ != nullptr, "a ConfigNode always wraps a tree node");
}

ConfigNode::Kind ConfigNode::kind() const { return node_->kind; }

const SourceLocation& ConfigNode::location() const { return node_->location; }

bool ConfigNode::has(std::string_view key) const {
  return is_map() && find_entry(*node_, key) != nullptr;
}

ConfigNode ConfigNode::at(std::string_view key) const {
  const std::string wanted = "key '" + std::string{key} + "'";
  if (!is_map()) fail("a map with " + wanted);
  if (const detail::MapEntry* e = find_entry(*node_, key)) {
    return ConfigNode(e->value, detail::child_path(path_, key));
  }
  // A present key that looks like a misspelling of `key` is reported where it is written, with
  // `key` as the suggestion: suggesting the present key would offer back what the user typed
  // ("found dis: ... did you mean 'dis'?").
  const std::string near = closest_match(key, keys());
  if (near.empty()) fail(wanted, describe());
  const detail::MapEntry* e = find_entry(*node_, near);
  throw ConfigError(e->key_location, detail::child_path(path_, near), wanted, "key '" + near + "'",
                    std::string{key});
}

std::optional<ConfigNode> ConfigNode::get(std::string_view key) const {
  if (is_null()) return std::nullopt;
  if (!is_map()) fail("a map");
  if (const detail::MapEntry* e = find_entry(*node_, key)) {
    return ConfigNode(e->value, detail::child_path(path_, key));
  }
  return std::nullopt;
}

std::vector<std::string> ConfigNode::keys() const {
  if (!is_map()) fail("a map");
  std::vector<std::string> out;
  out.reserve(node_->entries.size());
  for (const auto& e : node_->entries) out.push_back(e.key);
  return out;
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  if (!is_map()) fail("a map");
  std::vector<std::pair<std::string, ConfigNode>> out;
  out.reserve(node_->entries.size());
  for (const auto& e : node_->entries) {
    out.emplace_back(e.key, ConfigNode(e.value, detail::child_path(path_, e.key)));
  }
  return out;
}

void ConfigNode::check_keys(std::span<const std::string_view> allowed) const {
  const std::vector<std::string> names = to_strings(allowed);
  if (!is_map()) fail("a map with keys among: " + detail::join_names(names));
  for (const auto& e : node_->entries) {
    if (std::find(allowed.begin(), allowed.end(), e.key) != allowed.end()) continue;
    throw ConfigError(e.key_location, detail::child_path(path_, e.key),
                      "one of the keys: " + detail::join_names(names),
                      "unknown key '" + e.key + "'", closest_match(e.key, names));
  }
}

std::size_t ConfigNode::size() const {
  if (!is_sequence()) fail("a sequence");
  return node_->items.size();
}

ConfigNode ConfigNode::operator[](std::size_t i) const {
  if (!is_sequence()) fail("a sequence");
  if (i >= node_->items.size()) {
    fail("a sequence of at least " + std::to_string(i + 1) + " items");
  }
  return ConfigNode(node_->items[i], detail::index_path(path_, i));
}

std::vector<ConfigNode> ConfigNode::items() const {
  if (!is_sequence()) fail("a sequence");
  std::vector<ConfigNode> out;
  out.reserve(node_->items.size());
  for (std::size_t i = 0; i < node_->items.size(); ++i) {
    out.emplace_back(node_->items[i], detail::index_path(path_, i));
  }
  return out;
}

std::string ConfigNode::as_string() const {
  if (!is_scalar()) fail("a string");
  return node_->scalar;
}

double ConfigNode::as_double() const {
  if (!is_scalar() || !is_number(node_->scalar)) fail("a number");
  std::string_view text = node_->scalar;
  if (text.front() == '+') text.remove_prefix(1);
  double v = 0.0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  if (!std::isfinite(v)) fail("a finite number");
  return v;
}

std::int64_t ConfigNode::as_int() const {
  if (!is_scalar()) fail("an integer");
  std::string_view text = node_->scalar;
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range) fail("an integer within 64 bits");
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) fail("an integer");
  return v;
}

bool ConfigNode::as_bool() const {
  if (is_scalar() && node_->scalar == "true") return true;
  if (is_scalar() && node_->scalar == "false") return false;
  fail("true or false");
}

std::string ConfigNode::as_choice(std::span<const std::string_view> choices) const {
  const std::vector<std::string> names = to_strings(choices);
  const std::string expected = "one of: " + detail::join_names(names);
  if (!is_scalar()) fail(expected);
  if (std::find(choices.begin(), choices.end(), node_->scalar) == choices.end()) {
    fail(expected, describe(), closest_match(node_->scalar, names));
  }
  return node_->scalar;
}

Bytes ConfigNode::as_bytes() const {
  return read_quantity(*this, QuantityKind::kBytes, parse_bytes);
}
Bandwidth ConfigNode::as_bandwidth() const {
  return read_quantity(*this, QuantityKind::kBandwidth, parse_bandwidth);
}
Duration ConfigNode::as_duration() const {
  return read_quantity(*this, QuantityKind::kDuration, parse_duration);
}
FlopRate ConfigNode::as_flop_rate() const {
  return read_quantity(*this, QuantityKind::kFlopRate, parse_flop_rate);
}
Flops ConfigNode::as_flops() const {
  return read_quantity(*this, QuantityKind::kFlops, parse_flops);
}
Power ConfigNode::as_power() const {
  return read_quantity(*this, QuantityKind::kPower, parse_power);
}
MoneyRate ConfigNode::as_money_rate() const {
  return read_quantity(*this, QuantityKind::kMoneyRate, parse_money_rate);
}

std::string ConfigNode::describe() const {
  switch (kind()) {
    case Kind::kNull: return "an empty value";
    case Kind::kSequence: {
      const std::size_t n = node_->items.size();
      return n == 0 ? "an empty sequence"
                    : "a sequence of " + std::to_string(n) + (n == 1 ? " item" : " items");
    }
    case Kind::kMap: {
      if (node_->entries.empty()) return "an empty map";
      std::vector<std::string> shown;
      for (const auto& e : node_->entries) {
        if (shown.size() == kMaxShownKeys) {
          shown.emplace_back("...");
          break;
        }
        shown.push_back(e.key);
      }
      return std::string{shown.size() == 1 ? "a map with key " : "a map with keys "} +
             detail::join_names(shown);
    }
    case Kind::kScalar: break;
  }
  const std::string& s = node_->scalar;
  if (!node_->quoted && (is_number(s) || s == "true" || s == "false")) return s;
  std::string shown;
  for (char c : s.substr(0, kMaxShownChars))
    shown += c == '\n' ? std::string{"\\n"} : std::string(1, c);
  if (s.size() > kMaxShownChars) shown += "...";
  return "\"" + shown + "\"";
}

void ConfigNode::fail(std::string expected, std::string found, std::string suggestion) const {
  throw ConfigError(location(), path_, std::move(expected),
                    found.empty() ? describe() : std::move(found), std::move(suggestion));
}

}  // namespace moesim::config
