#pragma once
/// \file
/// A small table of strings with renderers for people (aligned text) and machines (CSV, JSON).
/// Reports build a Table; the CLI picks the format.

#include <string>
#include <vector>

namespace moesim::study {

/// Rows of cells under a header. Numeric cells are kept as text, formatted by the producer.
class Table {
 public:
  /// A table with the given column names (the first names the row label column).
  explicit Table(std::vector<std::string> header);

  /// Appends a row; it must have as many cells as the header (asserted).
  void add_row(std::vector<std::string> cells);
  /// Appends a section line: a row spanning the table in text output, skipped in CSV and JSON.
  void add_section(std::string title);

  const std::vector<std::string>& header() const { return header_; }
  /// The rows' cells, in order, without the section lines.
  std::vector<std::vector<std::string>> data_rows() const;

  /// Aligned text: the first column left-aligned, the others right-aligned.
  std::string to_text() const;
  /// RFC 4180 CSV with a header line; section lines are omitted.
  std::string to_csv() const;
  /// A JSON array of objects keyed by the header names; section lines are omitted.
  std::string to_json() const;

 private:
  struct Row {
    bool section = false;
    std::vector<std::string> cells;
  };
  std::vector<std::string> header_;
  std::vector<Row> rows_;
};

/// Formats `value` with `digits` significant digits, without exponent for values in
/// [1e-3, 1e9) (e.g. 989.4, 0.00512, 15832).
std::string format_number(double value, int digits = 4);

/// Escapes a string for inclusion in a JSON document (without the surrounding quotes).
std::string json_escape(const std::string& text);

}  // namespace moesim::study
