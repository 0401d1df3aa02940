#include "sim/config/catalog.hpp"

#include <algorithm>
#include <cstdlib>

#include "sim/config/detail_node.hpp"
#include "sim/core/suggest.hpp"

#ifndef MOESIM_DATA_DIR
#error "MOESIM_DATA_DIR must be defined by CMake for moesim_config"
#endif

namespace moesim::config {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kYamlExtensions[] = {".yaml", ".yml"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

/// A name containing '/' or ending in a file extension is a path, anything else a name.
bool is_path(std::string_view name_or_path) {
  return name_or_path.find('/') != std::string_view::npos || ends_with(name_or_path, ".yaml") ||
         ends_with(name_or_path, ".yml") || ends_with(name_or_path, ".json");
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

}  // namespace

Catalog::Catalog(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}

std::filesystem::path Catalog::default_data_dir() {
  // The environment is read, never written; MOESIM_DATA_DIR lets an installed binary find data.
  if (const char* env = std::getenv("MOESIM_DATA_DIR"); env != nullptr && *env != '\0') {
    return fs::path{env};
  }
  return fs::path{MOESIM_DATA_DIR};
}

std::vector<std::string> Catalog::names(std::string_view section) const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(data_dir_ / section, ec), end; !ec && it != end;
       it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string ext = p.extension().string();
    if (std::find(std::begin(kYamlExtensions), std::end(kYamlExtensions), ext) ==
            std::end(kYamlExtensions) ||
        !is_file(p)) {
      continue;
    }
    out.push_back(p.stem().string());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::filesystem::path Catalog::resolve(std::string_view section, std::string_view name_or_path,
                                       const SourceLocation& where) const {
  const std::string name{name_or_path};
  if (is_path(name_or_path)) {
    if (!is_file(name)) {
      throw ConfigError(where, std::string{section}, "the path of an existing file",
                        "'" + name + "' (no such file)");
    }
    return fs::path{name};
  }
  for (std::string_view ext : kYamlExtensions) {
    fs::path candidate = data_dir_ / section / (name + std::string{ext});
    if (!name.empty() && is_file(candidate)) return candidate;
  }
  const std::vector<std::string> known = names(section);
  throw ConfigError(where, std::string{section},
                    "one of the " + std::string{section} + " entries: " + detail::join_names(known),
                    "'" + name + "'", closest_match(name, known));
}

std::filesystem::path Catalog::resolve(std::string_view section, const ConfigNode& name) const {
  const std::string text = name.as_string();
  if (is_path(text)) {
    fs::path p{text};
    const fs::path holder{name.location().file};
    if (p.is_relative() && is_file(holder) && is_file(holder.parent_path() / p)) {
      return holder.parent_path() / p;
    }
    if (!is_file(p)) name.fail("the path of an existing file", "'" + text + "' (no such file)");
    return p;
  }
  try {
    return resolve(section, text, name.location());
  } catch (const ConfigError& e) {
    throw ConfigError(e.where(), name.key_path(), e.expected(), e.found(), e.suggestion());
  }
}

ConfigNode Catalog::load(std::string_view section, std::string_view name_or_path,
                         const SourceLocation& where) const {
  return ConfigNode::load_file(resolve(section, name_or_path, where));
}

ConfigNode Catalog::load(std::string_view section, const ConfigNode& name) const {
  return ConfigNode::load_file(resolve(section, name));
}

PresetResolver Catalog::resolver(std::string_view section) const {
  return [catalog = *this, section = std::string{section}](const ConfigNode& name) {
    return catalog.load(section, name);
  };
}

}  // namespace moesim::config
