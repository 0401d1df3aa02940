#include "sim/config/catalog.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "test_util.hpp"

namespace moesim::config {
namespace {

namespace fs = std::filesystem;

std::string catalog_dir() { return std::string{MOESIM_TEST_DATA_DIR} + "/config/catalog"; }

using ::moesim::test::config_error;

/// Sets or clears an environment variable for one scope and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("names are the sorted stems of the YAML files of a section") {
  const Catalog catalog(catalog_dir());
  // gpus/ holds h200.yaml, h100.yaml, b200.yml and README.txt (not an entry).
  CHECK(catalog.names("topologies/gpus") == std::vector<std::string>{"b200", "h100", "h200"});
  CHECK(catalog.names("no/such/section").empty());
  CHECK(catalog.data_dir() == fs::path{catalog_dir()});
}

TEST_CASE("a name resolves to its file in the section, .yaml or .yml") {
  const Catalog catalog(catalog_dir());
  CHECK(catalog.resolve("topologies/gpus", "h200") ==
        fs::path{catalog_dir()} / "topologies/gpus/h200.yaml");
  CHECK(catalog.resolve("topologies/gpus", "b200") ==
        fs::path{catalog_dir()} / "topologies/gpus/b200.yml");
  const ConfigNode h100 = catalog.load("topologies/gpus", "h100");
  // H100 SXM5: 3.35 TB/s (fixture value, source S1).
  CHECK(h100.at("memory").at("bandwidth").as_bandwidth() == terabytes_per_second(3.35));
}

TEST_CASE("a name with a slash or a YAML extension is a path") {
  const Catalog catalog(catalog_dir());
  const std::string h200 = catalog_dir() + "/topologies/gpus/h200.yaml";
  CHECK(catalog.resolve("topologies/gpus", h200) == fs::path{h200});
  const ConfigError e = config_error([&] { catalog.resolve("models", "missing.yaml"); });
  CHECK(std::string{e.what()} ==
        "<command line>: models: expected the path of an existing file, found 'missing.yaml' (no "
        "such file)");
}

TEST_CASE("an unknown name lists the section's entries and suggests the nearest") {
  const Catalog catalog(catalog_dir());
  const ConfigError e = config_error([&] { catalog.resolve("topologies/gpus", "h20"); });
  // "h20" is one insertion from "h200" and two edits from "h100" and "b200".
  CHECK(std::string{e.what()} ==
        "<command line>: topologies/gpus: expected one of the topologies/gpus entries: b200, "
        "h100, h200, found 'h20' (did you mean 'h200'?)");
  const ConfigError where = config_error([&] {
    catalog.resolve("topologies/gpus", "x", SourceLocation{"--gpu", 0, 0});
  });
  CHECK(where.where().file == "--gpu");
  CHECK(where.suggestion().empty());
  const ConfigError empty = config_error([&] { catalog.resolve("nothing", "x"); });
  CHECK(empty.expected() == "one of the nothing entries: (none)");
}

TEST_CASE("an unknown name written in a file is reported at that value") {
  const Catalog catalog(catalog_dir());
  const std::string file = catalog_dir() + "/topologies/systems/unknown_gpu.yaml";
  const ConfigNode system = ConfigNode::load_file(file);
  const ConfigError e =
      config_error([&] { resolve_preset(system.at("gpu"), catalog.resolver("topologies/gpus")); });
  // Line 3 of unknown_gpu.yaml is `gpu: h20`: the value is at column 6.
  CHECK(std::string{e.what()} == file +
                                     ":3:6: gpu: expected one of the topologies/gpus entries: "
                                     "b200, h100, h200, found 'h20' (did you mean 'h200'?)");
}

TEST_CASE("a relative path written in a file is taken relative to that file") {
  const Catalog catalog(catalog_dir());
  const ConfigNode system =
      ConfigNode::load_file(catalog_dir() + "/topologies/systems/local_gpu.yaml");
  const ConfigNode gpu = catalog.load("topologies/gpus", system.at("gpu"));
  CHECK(gpu.at("name").as_string() == "h100");
  const ConfigNode missing = ConfigNode::parse("gpu: ./nope.yaml\n", "inline");
  CHECK(config_error([&] { catalog.load("topologies/gpus", missing.at("gpu")); }).key_path() ==
        "gpu");
}

TEST_CASE("the default data directory is $MOESIM_DATA_DIR, else the source tree") {
  {
    const ScopedEnv env("MOESIM_DATA_DIR", "/opt/moesim-data");
    CHECK(Catalog::default_data_dir() == fs::path{"/opt/moesim-data"});
  }
  {
    const ScopedEnv env("MOESIM_DATA_DIR", nullptr);
    // CMake sets the compiled-in default to the source tree, which holds topologies/.
    CHECK(Catalog::default_data_dir() == fs::path{MOESIM_SOURCE_DIR});
  }
  {
    const ScopedEnv env("MOESIM_DATA_DIR", "");
    CHECK(Catalog::default_data_dir() == fs::path{MOESIM_SOURCE_DIR});  // empty means unset
  }
}

}  // namespace moesim::config
