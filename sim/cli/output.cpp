#include "sim/cli/output.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"

namespace moesim::cli {

config::Catalog open_catalog(const Args& args) {
  const auto given = args.value("data-dir");
  const std::filesystem::path dir =
      given ? std::filesystem::path(*given) : config::Catalog::default_data_dir();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    const char* env = std::getenv("MOESIM_DATA_DIR");
    const std::string key =
        given ? "--data-dir" : (env != nullptr && *env != '\0' ? "MOESIM_DATA_DIR" : "data dir");
    throw ConfigError(
        {"<command line>", 0, 0}, key,
        "an existing catalog directory (holding topologies/, models/, workloads/)",
        dir.string() + " (" +
            (std::filesystem::exists(dir, ec) ? "not a directory" : "no such directory") + ")");
  }
  return config::Catalog(dir);
}

OptionSpec format_option() {
  return {"format", true, "text|csv|json", "output format (default: text)"};
}

void print_table(const Args& args, const study::Table& table) {
  const std::string format = args.value("format").value_or("text");
  if (format == "text") {
    std::cout << table.to_text();
  } else if (format == "csv") {
    std::cout << table.to_csv();
  } else if (format == "json") {
    std::cout << table.to_json();
  } else {
    const std::vector<std::string> formats{"text", "csv", "json"};
    throw ConfigError({"<command line>", 0, 0}, "--format", "one of text, csv, json", format,
                      closest_match(format, formats));
  }
}

}  // namespace moesim::cli
