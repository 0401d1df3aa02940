#pragma once
/// \file
/// Output helpers shared by subcommands: the --format option and writing a Table.

#include <string>

#include "sim/cli/args.hpp"
#include "sim/study/table.hpp"

namespace moesim::cli {

/// The `--format text|csv|json` option spec.
OptionSpec format_option();

/// Prints `table` to stdout in the format chosen with --format (text when absent); throws
/// ConfigError for an unknown format, with a did-you-mean.
void print_table(const Args& args, const study::Table& table);

}  // namespace moesim::cli
