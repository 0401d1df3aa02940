#include "sim/core/csv.hpp"

#include "sim/core/input_file.hpp"

namespace moesim {
namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

/// Splits one line into fields; an unterminated quote is a ConfigError at `line`.
std::vector<std::string> split_line(std::string_view line, const std::string& file, int line_no) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  bool was_quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
      was_quoted = true;
    } else if (c == ',') {
      cells.push_back(was_quoted ? cell : trim(cell));
      cell.clear();
      was_quoted = false;
    } else {
      cell += c;
    }
  }
  if (quoted) {
    throw ConfigError({file, line_no, static_cast<int>(line.size())}, "",
                      "a closing '\"' on the same line", "an unterminated quoted field");
  }
  cells.push_back(was_quoted ? cell : trim(cell));
  return cells;
}

}  // namespace

int CsvTable::column(std::string_view name) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

SourceLocation CsvTable::where(std::size_t row, int col) const {
  return {file, row < lines.size() ? lines[row] : header_line, col + 1};
}

std::string_view strip_utf8_bom(std::string_view text) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  return text;
}

CsvTable parse_csv(std::string_view text, std::string file) {
  text = strip_utf8_bom(text);
  CsvTable t;
  t.file = std::move(file);
  int line_no = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (trim(line).empty()) {
      if (end == text.size()) break;
      continue;
    }
    if (t.header.empty() && line.front() == '#') {
      t.comments.push_back(trim(line.substr(1)));
    } else if (t.header.empty()) {
      t.header = split_line(line, t.file, line_no);
      t.header_line = line_no;
    } else {
      std::vector<std::string> cells = split_line(line, t.file, line_no);
      if (cells.size() != t.header.size()) {
        throw ConfigError({t.file, line_no, 1}, "",
                          std::to_string(t.header.size()) + " fields, as the header (line " +
                              std::to_string(t.header_line) + ") has",
                          std::to_string(cells.size()) + " fields");
      }
      t.rows.push_back(std::move(cells));
      t.lines.push_back(line_no);
    }
    if (end == text.size()) break;
  }
  if (t.header.empty()) {
    throw ConfigError({t.file, line_no, 0}, "", "a header row naming the columns",
                      "an empty table");
  }
  return t;
}

CsvTable read_csv(const std::filesystem::path& path) {
  return parse_csv(read_input_file(path, "CSV file", kMaxCsvFileBytes), path.string());
}

}  // namespace moesim
