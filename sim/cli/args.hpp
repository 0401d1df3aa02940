#pragma once
/// \file
/// A small command-line parser: `--name value`, `--name=value`, boolean `--flag`, and
/// positional words. Every other word that starts with '-' ("-x", "-seed"), except "-" itself,
/// is an option too, and "--" ends the options. Unknown options are ConfigErrors with a "did
/// you mean".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moesim::cli {

/// One declared option of a subcommand.
struct OptionSpec {
  std::string name;     ///< without the leading "--"
  bool takes_value;     ///< false for boolean flags
  std::string metavar;  ///< e.g. "NAME|PATH" (for --help)
  std::string help;     ///< one line
};

/// Parsed arguments of one subcommand.
class Args {
 public:
  /// Parses `words` (after the subcommand) against `specs`; throws ConfigError on an unknown
  /// option (with did-you-mean) or a missing value.
  Args(std::string command, const std::vector<std::string>& words,
       const std::vector<OptionSpec>& specs);

  /// The value of `--name`, if given (last one wins).
  std::optional<std::string> value(std::string_view name) const;
  /// All values of a repeatable option, in order.
  std::vector<std::string> values(std::string_view name) const;
  /// True when boolean `--name` was given.
  bool flag(std::string_view name) const;
  /// Positional words, in order.
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::string command_;
  std::vector<std::pair<std::string, std::string>> given_;
  std::vector<std::string> positional_;
};

/// The `--seed N` option spec; `help` says what the seed drives and its default.
OptionSpec seed_option(std::string help);

/// The value of `--seed` (every command parses it here, alike): a whole number from 0 to
/// 2^63 - 1 (the range of a scenario's `seed:`), `fallback` when absent. A ConfigError at
/// --seed otherwise.
std::uint64_t parse_seed(const Args& args, std::uint64_t fallback);

/// Renders the option list of a subcommand for --help.
std::string format_options(const std::vector<OptionSpec>& specs);

}  // namespace moesim::cli
