// The one place that reads YAML: converts yaml-cpp's document into the immutable detail::Node
// tree, recording 1-based line and column for every node and every map key.

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <unordered_map>
#include <vector>

#include "sim/config/detail_node.hpp"
#include "sim/core/input_file.hpp"

namespace moesim::config {
namespace detail {
namespace {

/// Largest number of nodes one document may expand to (aliases can multiply a small text).
inline constexpr std::size_t kMaxNodes = 1'000'000;

/// Records where each document of a YAML stream starts and ignores every other event.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

/// The start of each document of `text`. yaml-cpp 0.7's LoadAll() never returns on a stream
/// with a token that starts no document, such as the ',' of "{}," (jbeder/yaml-cpp issue 1040,
/// fixed upstream by pull request 1319): its parser reports an empty document there again and
/// again without consuming the token, and LoadAll() collects them until memory runs out. Here a
/// document that starts where the previous one did is that token, and a syntax error.
std::vector<YAML::Mark> document_starts(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts events;
  while (parser.HandleNextDocument(events)) {
    const auto n = events.starts.size();
    if (n >= 2 && events.starts[n - 1].pos == events.starts[n - 2].pos) {
      throw YAML::ParserException(events.starts[n - 1], "a token that starts no document");
    }
  }
  return events.starts;
}

class Converter {
 public:
  explicit Converter(const TextOrigin& origin) : origin_(origin) {}

  SourceLocation location_of(const YAML::Mark& mark) const {
    if (mark.is_null()) return {origin_.label, 0, 0};
    const int line = mark.line + origin_.first_line;
    const int column = mark.line == 0 ? mark.column + origin_.first_column : mark.column + 1;
    return {origin_.label, line, column};
  }

  /// Converts `y`; `fallback` is used where yaml-cpp has no useful mark (an empty value).
  std::shared_ptr<const Node> convert(const YAML::Node& y, const std::string& path, int depth,
                                      const SourceLocation& fallback) {
    auto node = std::make_shared<Node>();
    node->location = location_of(y.Mark());
    if (node->location.line == 0) node->location = fallback;
    if (depth > kMaxDepth) {
      throw ConfigError(node->location, path,
                        "nesting at most " + std::to_string(kMaxDepth) + " levels deep",
                        "deeper nesting (a recursive alias?)");
    }
    if (++count_ > kMaxNodes) {
      throw ConfigError(node->location, path,
                        "a document of at most " + std::to_string(kMaxNodes) + " nodes",
                        "more (aliases expanding too far?)");
    }
    switch (y.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null: node->kind = ConfigNode::Kind::kNull; break;
      case YAML::NodeType::Scalar:
        node->kind = ConfigNode::Kind::kScalar;
        node->scalar = y.Scalar();
        node->quoted = y.Tag() != "?";
        break;
      case YAML::NodeType::Sequence:
        node->kind = ConfigNode::Kind::kSequence;
        for (std::size_t i = 0; i < y.size(); ++i) {
          node->items.push_back(convert(y[i], index_path(path, i), depth + 1, node->location));
        }
        break;
      case YAML::NodeType::Map: convert_map(y, path, depth, *node); break;
    }
    return node;
  }

 private:
  void convert_map(const YAML::Node& y, const std::string& path, int depth, Node& node) {
    node.kind = ConfigNode::Kind::kMap;
    std::unordered_map<std::string, std::size_t> seen;
    for (const auto& pair : y) {
      const YAML::Node& key = pair.first;
      SourceLocation key_location = location_of(key.Mark());
      if (key_location.line == 0) key_location = node.location;
      if (!key.IsScalar()) {
        throw ConfigError(key_location, path, "a plain key",
                          key.IsMap()        ? "a map used as a key"
                          : key.IsSequence() ? "a sequence used as a key"
                                             : "an empty key");
      }
      const std::string& name = key.Scalar();
      const std::string key_path = child_path(path, name);
      if (const auto prev = seen.find(name); prev != seen.end()) {
        const SourceLocation& first = node.entries[prev->second].key_location;
        throw ConfigError(
            key_location, key_path, "each key at most once in a map",
            "'" + name + "' again (first at line " + std::to_string(first.line) + ")");
      }
      // An empty value ("key:") carries the mark of the next token; point at the key instead.
      const YAML::Node& value = pair.second;
      SourceLocation value_fallback = key_location;
      auto converted = convert(value, key_path, depth + 1, value_fallback);
      if (converted->kind == ConfigNode::Kind::kNull &&
          converted->location.line != key_location.line) {
        auto moved = std::make_shared<Node>(*converted);
        moved->location = key_location;
        converted = std::move(moved);
      }
      seen.emplace(name, node.entries.size());
      node.entries.push_back({name, std::move(key_location), std::move(converted)});
    }
  }

  const TextOrigin& origin_;
  std::size_t count_ = 0;
};

}  // namespace

std::shared_ptr<const Node> build_tree(std::string_view yaml_text, const TextOrigin& origin) {
  const std::string text{yaml_text};
  std::vector<YAML::Mark> starts;
  YAML::Node document;
  try {
    starts = document_starts(text);
    if (starts.size() == 1) document = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    Converter at(origin);
    throw ConfigError(at.location_of(e.mark), "", "valid YAML syntax",
                      "a syntax error (" + e.msg + ")");
  }
  Converter converter(origin);
  const SourceLocation start{origin.label, origin.first_line, origin.first_column};
  if (starts.empty()) return converter.convert(YAML::Node{}, "", 0, start);
  if (starts.size() > 1) {
    throw ConfigError(converter.location_of(starts[1]), "", "a single YAML document",
                      std::to_string(starts.size()) + " documents");
  }
  return converter.convert(document, "", 0, start);
}

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string{key} : parent + "." + std::string{key};
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string join_names(const std::vector<std::string>& names) {
  if (names.empty()) return "(none)";
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace detail

ConfigNode ConfigNode::parse(std::string_view yaml_text, std::string label) {
  return ConfigNode(detail::build_tree(yaml_text, detail::TextOrigin{std::move(label), 1, 1}), "");
}

ConfigNode ConfigNode::load_file(const std::filesystem::path& path) {
  return parse(read_input_file(path, "YAML file", kMaxYamlFileBytes), path.string());
}

}  // namespace moesim::config
