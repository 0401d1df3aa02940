#pragma once
/// \file
/// Output helpers shared by subcommands: the --format option and writing a Table.

#include <string>

#include "sim/cli/args.hpp"
#include "sim/config/catalog.hpp"
#include "sim/study/table.hpp"

namespace moesim::cli {

/// The catalog at --data-dir, else at Catalog::default_data_dir() ($MOESIM_DATA_DIR or the source
/// tree). A directory that does not exist is a ConfigError naming it (key --data-dir, or
/// MOESIM_DATA_DIR when the default came from the environment), not an empty catalog.
config::Catalog open_catalog(const Args& args);

/// The `--format text|csv|json` option spec.
OptionSpec format_option();

/// Prints `table` to stdout in the format chosen with --format (text when absent); throws
/// ConfigError for an unknown format, with a did-you-mean.
void print_table(const Args& args, const study::Table& table);

}  // namespace moesim::cli
