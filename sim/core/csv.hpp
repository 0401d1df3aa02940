#pragma once
/// \file
/// A small CSV reader for the tables moesim reads (per-op measurements, request traces): a
/// header row naming the columns, then one record per line. Lines starting with '#' before the
/// header are comments (kept, they carry provenance); blank lines are skipped. A field may be
/// double-quoted to hold commas ("a,b"; "" is a literal quote). Every row must have as many
/// cells as the header; a short or long row is a ConfigError at its line.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/error.hpp"

namespace moesim {

/// A parsed CSV table; cells are the raw text, trimmed of surrounding spaces.
struct CsvTable {
  std::string file;                            ///< path or label, for error messages
  std::vector<std::string> comments;           ///< '#' lines before the header, '#' removed
  std::vector<std::string> header;             ///< column names
  int header_line = 0;                         ///< 1-based line of the header
  std::vector<std::vector<std::string>> rows;  ///< records, each header.size() cells
  std::vector<int> lines;                      ///< 1-based line of each record

  /// Index of column `name`, or -1 when the header lacks it.
  int column(std::string_view name) const;
  /// Where cell (row, col) sits: file, its line, and the 1-based column number of the field.
  SourceLocation where(std::size_t row, int col) const;
};

/// `text` without a leading UTF-8 byte-order mark (EF BB BF), which spreadsheet programs write
/// at the start of a CSV file saved as "UTF-8"; unchanged when it has none.
std::string_view strip_utf8_bom(std::string_view text);

/// Parses CSV `text` (a leading UTF-8 byte-order mark is skipped); `file` labels error
/// messages. An empty table (no header) is a ConfigError.
CsvTable parse_csv(std::string_view text, std::string file);

/// Reads and parses the file at `path`; an unreadable file is a ConfigError naming it.
CsvTable read_csv(const std::filesystem::path& path);

}  // namespace moesim
