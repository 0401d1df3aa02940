#include "sim/cli/output.hpp"

#include <iostream>
#include <vector>

#include "sim/core/error.hpp"
#include "sim/core/suggest.hpp"

namespace moesim::cli {

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
