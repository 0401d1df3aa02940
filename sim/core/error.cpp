#include "sim/core/error.hpp"

namespace moesim {
namespace {
std::string format_config_error(const SourceLocation& where, const std::string& key_path,
                                const std::string& expected, const std::string& found,
                                const std::string& suggestion) {
  std::string msg = where.file.empty() ? std::string{"<input>"} : where.file;
  if (where.line > 0) {
    msg += ":" + std::to_string(where.line);
    if (where.column > 0) msg += ":" + std::to_string(where.column);
  }
  msg += ": " + (key_path.empty() ? std::string{"<root>"} : key_path);
  msg += ": expected " + expected + ", found " + found;
  if (!suggestion.empty()) msg += " (did you mean '" + suggestion + "'?)";
  return msg;
}
}  // namespace

ConfigError::ConfigError(SourceLocation where, std::string key_path, std::string expected,
                         std::string found, std::string suggestion)
    : Error(format_config_error(where, key_path, expected, found, suggestion)),
      where_(std::move(where)),
      key_path_(std::move(key_path)),
      expected_(std::move(expected)),
      found_(std::move(found)),
      suggestion_(std::move(suggestion)) {}

namespace detail {
void assert_failed(const char* cond, const char* why, const char* file, int line) {
  throw InvariantError(std::string{"internal invariant failed at "} + file + ":" +
                       std::to_string(line) + ": " + cond + " (" + why + ")");
}
}  // namespace detail
}  // namespace moesim
