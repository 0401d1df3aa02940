#include "sim/study/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sim/core/assert.hpp"

namespace moesim::study {

Table::Table(std::vector<std::string> header) : header_(std::move(header)) {
  MOESIM_ASSERT(!header_.empty(), "a table needs at least one column");
}

void Table::add_row(std::vector<std::string> cells) {
  MOESIM_ASSERT(cells.size() == header_.size(), "row width must match the header");
  rows_.push_back({false, std::move(cells)});
}

void Table::add_section(std::string title) { rows_.push_back({true, {std::move(title)}}); }

std::string Table::to_text() const {
  std::vector<std::size_t> width(header_.size());
  for (std::size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& r : rows_) {
    if (r.section) continue;
    for (std::size_t c = 0; c < r.cells.size(); ++c)
      width[c] = std::max(width[c], r.cells[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::size_t pad = width[c] - cells[c].size();
      if (c == 0) {
        out += cells[c] + std::string(pad, ' ');
      } else {
        out += "  " + std::string(pad, ' ') + cells[c];
      }
    }
    return out + "\n";
  };
  std::string out = line(header_);
  std::size_t total = 0;
  for (std::size_t w : width) total += w + 2;
  out += std::string(total - 2, '-') + "\n";
  for (const auto& r : rows_) out += r.section ? r.cells[0] + "\n" : line(r.cells);
  return out;
}

namespace {
std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}
}  // namespace

std::vector<std::vector<std::string>> Table::data_rows() const {
  std::vector<std::vector<std::string>> out;
  for (const Row& r : rows_) {
    if (!r.section) out.push_back(r.cells);
  }
  return out;
}

std::string Table::to_csv() const {
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t c = 0; c < cells.size(); ++c) out += (c ? "," : "") + csv_cell(cells[c]);
    out += "\n";
  };
  line(header_);
  for (const auto& r : rows_) {
    if (!r.section) line(r.cells);
  }
  return out;
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string Table::to_json() const {
  std::string out = "[";
  bool first = true;
  for (const auto& r : rows_) {
    if (r.section) continue;
    out += first ? "\n  {" : ",\n  {";
    first = false;
    for (std::size_t c = 0; c < header_.size(); ++c) {
      out +=
          (c ? ", \"" : "\"") + json_escape(header_[c]) + "\": \"" + json_escape(r.cells[c]) + "\"";
    }
    out += "}";
  }
  return out + "\n]\n";
}

std::string format_number(double value, int digits) {
  if (!std::isfinite(value)) return value > 0 ? "inf" : (value < 0 ? "-inf" : "nan");
  char buf[64];
  const double mag = std::fabs(value);
  if (value == 0.0 || (mag >= 1e-3 && mag < 1e9)) {
    const int int_digits = value == 0.0 ? 1 : static_cast<int>(std::floor(std::log10(mag))) + 1;
    const int decimals = std::max(0, digits - int_digits);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    std::string s = buf;
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s;
  }
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

}  // namespace moesim::study
