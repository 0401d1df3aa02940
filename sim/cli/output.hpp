#pragma once
/// \file
/// Output helpers shared by subcommands: the --format option, writing a Table, and writing
/// files with every failure reported (a path checked before simulating, every write checked).

#include <functional>
#include <iosfwd>
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

/// The --format value (text when absent); a ConfigError with a did-you-mean for an unknown one.
std::string format_of(const Args& args);

/// Prints `table` to stdout in the format chosen with --format (text when absent); throws
/// ConfigError for an unknown format, with a did-you-mean.
void print_table(const Args& args, const study::Table& table);

/// Checks, before any simulation, that `path` (given with `option`, e.g. "--json") can be opened
/// for writing: its directory exists and the file can be created or written. Leaves nothing
/// behind (a file it had to create is removed again). "-" (stdout) passes. A ConfigError
/// naming the option, the path and the OS reason otherwise.
void check_writable(const std::string& path, const std::string& option);

/// Writes `text` to the file `path`, or to stdout when `path` is "-"; a ConfigError at `option`
/// naming the path and the OS reason when the file cannot be opened, written or closed.
void write_text_file(const std::string& path, const std::string& text, const std::string& option);

/// Like write_text_file, with the content streamed by `fill`.
void write_file(const std::string& path, const std::string& option,
                const std::function<void(std::ostream&)>& fill);

/// Flushes std::cout; a ConfigError naming standard output and the OS reason when any write to
/// it failed (e.g. stdout redirected to a full disk), so that lost output never exits 0.
void flush_stdout();

}  // namespace moesim::cli
