#pragma once
/// \file
/// The catalog: named YAML entries under a data directory (topologies/gpus/h200.yaml, ...).
/// Wherever a catalog name is accepted, a path to a YAML file is accepted too.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/config_node.hpp"

namespace moesim::config {

/// Looks up named YAML files below one data directory. Holds no global state.
class Catalog {
 public:
  /// `data_dir` is the root that holds topologies/, models/ and workloads/.
  explicit Catalog(std::filesystem::path data_dir);

  /// The data directory: $MOESIM_DATA_DIR when set, else the source tree moesim was built from.
  static std::filesystem::path default_data_dir();

  /// The root given to the constructor.
  const std::filesystem::path& data_dir() const { return data_dir_; }

  /// Entry names (file stems, sorted) in `section`, a folder relative to the data directory
  /// such as "topologies/gpus".
  std::vector<std::string> names(std::string_view section) const;

  /// The file for `name_or_path`: an existing path (anything containing '/' or ending in
  /// .yaml, .yml or .json is taken as a path, relative to the working directory), else
  /// `section/<name>.yaml` (or .yml). An unknown name is a ConfigError at `where`, key path
  /// `section`, expected "one of the <section> entries: a, b, c", with the nearest name as
  /// "did you mean"; a missing path is a ConfigError too.
  std::filesystem::path resolve(std::string_view section, std::string_view name_or_path,
                                const SourceLocation& where = {"<command line>", 0, 0}) const;

  /// resolve() for a name written in a YAML file: errors point at `name` (its location and key
  /// path), and a relative path is taken relative to the folder of the file that holds `name`.
  std::filesystem::path resolve(std::string_view section, const ConfigNode& name) const;

  /// resolve() then ConfigNode::load_file().
  ConfigNode load(std::string_view section, std::string_view name_or_path,
                  const SourceLocation& where = {"<command line>", 0, 0}) const;

  /// resolve(section, name) then ConfigNode::load_file().
  ConfigNode load(std::string_view section, const ConfigNode& name) const;

  /// A resolver for resolve_preset() that loads names from `section` of this catalog. It holds
  /// a copy of the catalog, so it may outlive this object.
  PresetResolver resolver(std::string_view section) const;

 private:
  std::filesystem::path data_dir_;
};

}  // namespace moesim::config
