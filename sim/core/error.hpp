#pragma once
/// \file
/// The exceptions moesim throws. Only sim/cli turns them into exit codes and messages.

#include <cstddef>
#include <stdexcept>
#include <string>

namespace moesim {

/// Base of every moesim exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A broken internal invariant (a bug in moesim, not in the input).
class InvariantError : public Error {
 public:
  using Error::Error;
};

/// Where in an input a value came from. `line` and `column` are 1-based; 0 means unknown.
struct SourceLocation {
  std::string file;  ///< path or label such as "<command line>"
  int line = 0;
  int column = 0;
};

/// Longest echoed input (a found value, a key path, a suggestion) that what() shows whole, in
/// bytes; a longer one is shown as its first kEchoKeptBytes and "... (N bytes)", so that a
/// 1 MB CSV field or YAML key does not fill the terminal.
inline constexpr std::size_t kEchoLimitBytes = 160;
/// Bytes of a clipped echo that what() keeps (fewer when that would split a UTF-8 character).
inline constexpr std::size_t kEchoKeptBytes = 80;

/// `text` as an error message echoes it: whole up to kEchoLimitBytes, else its first
/// kEchoKeptBytes (never half a UTF-8 character) and "... (N bytes)".
std::string clip_echo(const std::string& text);

/// Bad input: names file:line:col, the key path, what was expected, what was found and, where a
/// close match exists, a "did you mean" suggestion. what() is the full one-line message:
///   `file:line:col: key.path: expected <expected>, found <found> (did you mean 'x'?)`
/// with the key path, the found value and the suggestion clipped by clip_echo (the accessors
/// return them whole).
class ConfigError : public Error {
 public:
  ConfigError(SourceLocation where, std::string key_path, std::string expected, std::string found,
              std::string suggestion = {});

  const SourceLocation& where() const { return where_; }
  const std::string& key_path() const { return key_path_; }
  const std::string& expected() const { return expected_; }
  const std::string& found() const { return found_; }
  const std::string& suggestion() const { return suggestion_; }

 private:
  SourceLocation where_;
  std::string key_path_;
  std::string expected_;
  std::string found_;
  std::string suggestion_;
};

namespace detail {
/// Throws InvariantError naming the failed condition; used by MOESIM_ASSERT.
[[noreturn]] void assert_failed(const char* cond, const char* why, const char* file, int line);
}  // namespace detail

}  // namespace moesim
