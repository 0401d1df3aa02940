#include "sim/core/error.hpp"

namespace moesim {

std::string clip_echo(const std::string& text) {
  if (text.size() <= kEchoLimitBytes) return text;
  std::size_t kept = kEchoKeptBytes;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so as not to cut a character in two.
  while (kept > 0 && (static_cast<unsigned char>(text[kept]) & 0xC0U) == 0x80U) --kept;
  return text.substr(0, kept) + "... (" + std::to_string(text.size()) + " bytes)";
}

namespace {
std::string format_config_error(const SourceLocation& where, const std::string& key_path,
                                const std::string& expected, const std::string& found,
                                const std::string& suggestion) {
  std::string msg = where.file.empty() ? std::string{"<input>"} : where.file;
  if (where.line > 0) {
    msg += ":" + std::to_string(where.line);
    if (where.column > 0) msg += ":" + std::to_string(where.column);
  }
  msg += ": " + (key_path.empty() ? std::string{"<root>"} : clip_echo(key_path));
  msg += ": expected " + expected + ", found " + clip_echo(found);
  if (!suggestion.empty()) msg += " (did you mean '" + clip_echo(suggestion) + "'?)";
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
