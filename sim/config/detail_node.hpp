#pragma once
/// \file
/// Private to sim/config: the immutable tree behind ConfigNode, and the loader that builds it
/// from YAML text. Nothing outside sim/config includes this header.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/config_node.hpp"
#include "sim/core/error.hpp"

namespace moesim::config::detail {

/// One key of a map: its text, where the key was written, and its value.
struct MapEntry {
  std::string key;
  SourceLocation key_location;
  std::shared_ptr<const Node> value;
};

/// A node of a loaded document. Never mutated after construction; trees share subtrees.
struct Node {
  ConfigNode::Kind kind = ConfigNode::Kind::kNull;
  std::string scalar;             ///< the text of a scalar
  bool quoted = false;            ///< a scalar written quoted or as a block ("900" rather than 900)
  std::vector<MapEntry> entries;  ///< a map's entries, in document order
  std::vector<std::shared_ptr<const Node>> items;  ///< a sequence's items
  SourceLocation location;                         ///< where the node was written
};

/// Where the text given to build_tree() sits in its origin: line and column of its first
/// character (1-based), so that a value cut from "--set a.b=value" reports columns of the
/// whole assignment.
struct TextOrigin {
  std::string label;
  int first_line = 1;
  int first_column = 1;
};

/// Parses YAML text into a tree; a syntax error, a duplicate key, a non-scalar key or nesting
/// deeper than kMaxDepth throws ConfigError.
std::shared_ptr<const Node> build_tree(std::string_view yaml_text, const TextOrigin& origin);

/// Deepest nesting of maps and sequences a document may have.
inline constexpr int kMaxDepth = 200;

/// "a.b" + "c" -> "a.b.c"; "" + "c" -> "c".
std::string child_path(const std::string& parent, std::string_view key);
/// "items" + 2 -> "items[2]".
std::string index_path(const std::string& parent, std::size_t index);
/// "a, b, c": a listing of names for "expected one of ..." messages; "(none)" when empty.
std::string join_names(const std::vector<std::string>& names);

}  // namespace moesim::config::detail
