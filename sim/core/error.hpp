#pragma once
/// \file
/// The exceptions moesim throws. Only sim/cli turns them into exit codes and messages.

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

/// Bad input: names file:line:col, the key path, what was expected, what was found and, where a
/// close match exists, a "did you mean" suggestion. what() is the full one-line message:
///   `file:line:col: key.path: expected <expected>, found <found> (did you mean 'x'?)`
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
