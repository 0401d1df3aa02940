#pragma once
/// \file
/// Mutations of YAML text for the fuzz test. They work on the text, not on a parsed tree, so
/// that they can also break the syntax: a value replaced by a bad number, a wrong unit or another
/// type, a key deleted, duplicated or misspelt, a line moved or re-indented, the file truncated,
/// a byte-order mark or a tab inserted. Every choice is drawn from the Rng given, so the same
/// seed gives the same mutations.

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/core/rng.hpp"

namespace moesim::fuzz {

/// A mutated text and a one-line description of what was changed.
struct Mutated {
  std::string text;
  std::string what;
};

/// A uniformly drawn element of `items`.
template <class T>
const T& pick(Rng& rng, const std::vector<T>& items) {
  return items[rng.uniform_int(items.size())];
}

/// Numbers that parsers get wrong: zero, negative, huge, tiny, not finite, not decimal, beyond
/// int64, empty.
inline const std::vector<std::string>& bad_numbers() {
  static const std::vector<std::string> v = {"0",
                                             "-1",
                                             "-0",
                                             "1e300",
                                             "-1e300",
                                             "1e-300",
                                             "nan",
                                             "NaN",
                                             ".nan",
                                             "inf",
                                             ".inf",
                                             "-.inf",
                                             "1.5",
                                             "0.0001",
                                             "0x1F",
                                             "1e",
                                             "1..2",
                                             "+7",
                                             "9223372036854775807",
                                             "9223372036854775808",
                                             "-9223372036854775808",
                                             "18446744073709551616",
                                             "4294967297",
                                             "1e19",
                                             "2147483648",
                                             ""};
  return v;
}

/// Unit strings, right for some quantity and wrong for most.
inline const std::vector<std::string>& units() {
  static const std::vector<std::string> v = {
      "GB", "GiB",      "GB/s",   "Gb/s",  "TB/s", "tb/s", "TFLOP/s", "PFLOP/s", "TFLOP",
      "W",  "kW",       "us",     "ms",    "s",    "$/h",  "tok/s",   "B",       "b",
      "",   "furlongs", "GB/s/s", "GB /s", "KiB",  "Hz",   "%",       "x"};
  return v;
}

/// Replacement values of any type: numbers, quantities with units, prices, strings, maps,
/// sequences, empty values, a 100,000-character string.
inline const std::vector<std::string>& bad_values() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> r = bad_numbers();
    for (const char* s : {"\"\"",
                          "''",
                          "~",
                          "null",
                          "true",
                          "no",
                          "[]",
                          "{}",
                          "[1, 2]",
                          "{a: 1}",
                          "\"1 GB\"",
                          "\"-5 GB/s\"",
                          "\"nan GB\"",
                          "\"1e300 TB/s\"",
                          "\"0 B/s\"",
                          "\"0 W\"",
                          "\"$1/h\"",
                          "\"$-1/h\"",
                          "\"$nan/h\"",
                          "\"$0/h\"",
                          "\"inf ms\"",
                          "\"1 us\"",
                          "\"-2 us\"",
                          "\"1 TFLOP/s\"",
                          "\"1e308 PFLOP/s\"",
                          "\"100 Gb/s\"",
                          "deepseek-r1",
                          "h200",
                          "gb200-nvl72",
                          "hgx-h200",
                          "nvfp4",
                          "fp8",
                          "\"a\\0b\"",
                          "\"\\t\"",
                          "&a 1",
                          "*a",
                          "!!binary aGk=",
                          "|\n  block",
                          "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]",
                          "\"é\""}) {
      r.emplace_back(s);
    }
    r.push_back("\"" + std::string(100000, 'x') + "\"");
    return r;
  }();
  return v;
}

/// Lines that are odd anywhere in a YAML file.
inline const std::vector<std::string>& garbage_lines() {
  static const std::vector<std::string> v = {"---",
                                             "...",
                                             "%YAML 1.2",
                                             "? complex key",
                                             "<<: *nowhere",
                                             "x: &anchor {a: 1}",
                                             "y: *anchor",
                                             "key: [unclosed",
                                             "key: {unclosed: 1",
                                             "\"unterminated",
                                             "- item",
                                             ":",
                                             "!!map",
                                             "\t",
                                             "a: b: c",
                                             std::string(5000, 'k') + ": 1"};
  return v;
}

/// A position of a scalar or a flow collection in the text: [begin, end) and the key before it.
struct Slot {
  std::size_t begin;
  std::size_t end;
  std::string key;
};

/// The end of the line that starts at `at` (the index of its '\n', or text.size()).
inline std::size_t line_end(const std::string& text, std::size_t at) {
  const std::size_t e = text.find('\n', at);
  return e == std::string::npos ? text.size() : e;
}

/// Starts of all lines that are neither blank nor comments.
inline std::vector<std::size_t> content_lines(const std::string& text) {
  std::vector<std::size_t> lines;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t e = line_end(text, at);
    const std::size_t first = text.find_first_not_of(' ', at);
    if (first < e && text[first] != '#') lines.push_back(at);
    at = e + 1;
  }
  return lines;
}

/// The values of the text: block values after "key: ", items after "- ", and the scalars of
/// flow collections ({a: 1, b: [2, 3]}) with the collections themselves. Approximate (it does
/// not parse YAML) but good enough to aim mutations at values.
inline std::vector<Slot> value_slots(const std::string& text) {
  std::vector<Slot> slots;
  for (std::size_t ls : content_lines(text)) {
    const std::size_t le = line_end(text, ls);
    std::size_t i = text.find_first_not_of(' ', ls);
    std::string key;
    std::vector<std::size_t> open;  // starts of the flow collections being scanned
    bool expect_value = false;
    if (i < le && text[i] == '-' && i + 1 < le && text[i + 1] == ' ') {
      i += 2;
      expect_value = true;
    }
    while (i < le) {
      const char c = text[i];
      if (c == '#' && (i == ls || text[i - 1] == ' ')) break;
      if (expect_value && c == ' ') {
        ++i;
        continue;
      }
      if (expect_value) {
        expect_value = false;
        if (c == '{' || c == '[') {
          open.push_back(i);
          ++i;
          expect_value = c == '[';
          continue;
        }
        std::size_t e = i;
        if (c == '"' || c == '\'') {
          e = text.find(c, i + 1);
          e = (e == std::string::npos || e >= le) ? le : e + 1;
        } else {
          while (e < le && text[e] != ',' && text[e] != '}' && text[e] != ']' &&
                 !(text[e] == '#' && text[e - 1] == ' ')) {
            ++e;
          }
          while (e > i && text[e - 1] == ' ') --e;
          // A "key: value" inside a flow map: the scalar was a key.
          const std::size_t colon = text.find(": ", i);
          if (!open.empty() && colon < e) {
            key = text.substr(i, colon - i);
            i = colon + 2;
            expect_value = true;
            continue;
          }
        }
        if (e > i) slots.push_back({i, e, key});
        i = e;
        continue;
      }
      if (c == ':' && (i + 1 == le || text[i + 1] == ' ')) {
        std::size_t ks = i;
        while (ks > ls && text[ks - 1] != ' ' && text[ks - 1] != '{' && text[ks - 1] != ',') --ks;
        key = text.substr(ks, i - ks);
        expect_value = i + 1 < le;
        ++i;
        continue;
      }
      if (c == ',' && !open.empty()) {
        expect_value = text[open.back()] == '[';
        ++i;
        continue;
      }
      if ((c == '}' || c == ']') && !open.empty()) {
        slots.push_back({open.back(), i + 1, key});
        open.pop_back();
      }
      ++i;
    }
  }
  return slots;
}

/// Keys of the text ("name" in "  name: x" and in "{name: x}"), as slots over the key text.
inline std::vector<Slot> key_slots(const std::string& text) {
  std::vector<Slot> keys;
  for (std::size_t ls : content_lines(text)) {
    const std::size_t le = line_end(text, ls);
    for (std::size_t i = ls; i < le; ++i) {
      if (text[i] == '#' && (i == ls || text[i - 1] == ' ')) break;
      if (text[i] != ':' || !(i + 1 == le || text[i + 1] == ' ')) continue;
      std::size_t ks = i;
      while (ks > ls && (std::isalnum(static_cast<unsigned char>(text[ks - 1])) != 0 ||
                         text[ks - 1] == '_' || text[ks - 1] == '-' || text[ks - 1] == '.')) {
        --ks;
      }
      if (ks < i) keys.push_back({ks, i, text.substr(ks, i - ks)});
    }
  }
  return keys;
}

/// `word` with one character deleted, doubled, replaced or swapped with its neighbour.
inline std::string near_miss(Rng& rng, const std::string& word) {
  if (word.empty()) return "x";
  std::string w = word;
  const std::size_t at = rng.uniform_int(w.size());
  switch (rng.uniform_int(4)) {
    case 0: w.erase(at, 1); break;
    case 1: w.insert(at, 1, w[at]); break;
    case 2: w[at] = static_cast<char>('a' + rng.uniform_int(26)); break;
    default:
      if (at + 1 < w.size())
        std::swap(w[at], w[at + 1]);
      else
        w += "s";
  }
  return w == word ? word + "_" : w;
}

/// Replaces [begin, end) of `text` with `with`.
inline std::string splice(const std::string& text, std::size_t begin, std::size_t end,
                          const std::string& with) {
  return text.substr(0, begin) + with + text.substr(end);
}

/// A short, printable rendering of `s` for case descriptions.
inline std::string shorten(const std::string& s) {
  std::string r;
  for (char c : s.substr(0, 40)) {
    r += (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) ? '?' : c;
  }
  if (s.size() > 40) r += "...(" + std::to_string(s.size()) + " chars)";
  return r;
}

/// The number of the line (from 1) that holds position `at`.
inline std::size_t line_of(const std::string& text, std::size_t at) {
  std::size_t n = 1;
  for (std::size_t i = 0; i < at && i < text.size(); ++i) n += text[i] == '\n' ? 1 : 0;
  return n;
}

/// One mutation of `text`, drawn from `rng`.
inline Mutated mutate_once(const std::string& text, Rng& rng) {
  const std::vector<Slot> values = value_slots(text);
  const std::vector<Slot> keys = key_slots(text);
  const std::vector<std::size_t> lines = content_lines(text);
  const std::uint64_t kind = rng.uniform_int(100);
  auto at_line = [&](std::size_t pos) { return "line " + std::to_string(line_of(text, pos)); };
  if (kind < 30 && !values.empty()) {  // a value replaced by a value of any type
    const Slot& s = pick(rng, values);
    const std::string& v = pick(rng, bad_values());
    return {splice(text, s.begin, s.end, v), at_line(s.begin) + ": " + s.key + " = " + shorten(v)};
  }
  if (kind < 45 && !values.empty()) {  // the number or the unit of a quantity
    std::vector<Slot> quantities;
    for (const Slot& s : values) {
      const std::string v = text.substr(s.begin, s.end - s.begin);
      if (v.size() > 2 && v.front() == '"' && v.find(' ') != std::string::npos) {
        quantities.push_back(s);
      }
    }
    if (!quantities.empty()) {
      const Slot& s = pick(rng, quantities);
      const std::string v = text.substr(s.begin + 1, s.end - s.begin - 2);
      const std::size_t space = v.find(' ');
      std::string number = v.substr(0, space);
      std::string unit = v.substr(space + 1);
      const bool dollar = !number.empty() && number.front() == '$';
      if (rng.bernoulli(0.5)) {
        number = (dollar ? "$" : "") + pick(rng, bad_numbers());
      } else {
        unit = pick(rng, units());
      }
      const std::string q = "\"" + number + " " + unit + "\"";
      return {splice(text, s.begin, s.end, q), at_line(s.begin) + ": " + s.key + " = " + q};
    }
  }
  if (kind < 55 && !values.empty()) {  // a number scaled, negated or made fractional
    std::vector<Slot> numbers;
    for (const Slot& s : values) {
      if (std::isdigit(static_cast<unsigned char>(text[s.begin])) != 0) numbers.push_back(s);
    }
    if (!numbers.empty()) {
      const Slot& s = pick(rng, numbers);
      const std::string v = text.substr(s.begin, s.end - s.begin);
      static const std::vector<std::string> forms = {"-", "1000", "0.001", "x1e6", "+0.5"};
      const std::string& f = pick(rng, forms);
      std::string n = f == "-" ? "-" + v : f == "x1e6" ? v + "000000" : f == "+0.5" ? v + ".5" : f;
      if (f == "1000") n = v + "000";
      if (f == "0.001") n = "0.00" + v;
      return {splice(text, s.begin, s.end, n), at_line(s.begin) + ": " + s.key + " = " + n};
    }
  }
  if (kind < 62 && !keys.empty()) {  // a key misspelt
    const Slot& s = pick(rng, keys);
    const std::string k = near_miss(rng, s.key);
    return {splice(text, s.begin, s.end, k), at_line(s.begin) + ": key " + s.key + " -> " + k};
  }
  if (kind < 67 && !values.empty()) {  // a name misspelt
    const Slot& s = pick(rng, values);
    const std::string v = near_miss(rng, text.substr(s.begin, s.end - s.begin));
    return {splice(text, s.begin, s.end, v), at_line(s.begin) + ": " + s.key + " = " + shorten(v)};
  }
  if (kind < 75 && !lines.empty()) {  // a line deleted, or a key with its whole block
    const std::size_t ls = pick(rng, lines);
    std::size_t le = line_end(text, ls);
    std::string what = at_line(ls) + " deleted";
    if (rng.bernoulli(0.5)) {
      const std::size_t indent = text.find_first_not_of(' ', ls) - ls;
      while (le < text.size()) {
        const std::size_t next = le + 1;
        const std::size_t first = text.find_first_not_of(' ', next);
        if (first == std::string::npos || first - next <= indent || text[first] == '\n') break;
        le = line_end(text, next);
      }
      what = at_line(ls) + " deleted with its block";
    }
    return {splice(text, ls, std::min(le + 1, text.size()), ""), what};
  }
  if (kind < 81 && !lines.empty()) {  // a line duplicated (a duplicate key)
    const std::size_t ls = pick(rng, lines);
    const std::size_t le = line_end(text, ls);
    const std::string line = text.substr(ls, le - ls) + "\n";
    return {splice(text, ls, ls, line), at_line(ls) + " duplicated"};
  }
  if (kind < 84 && lines.size() > 1) {  // two lines swapped
    std::size_t a = pick(rng, lines);
    std::size_t b = pick(rng, lines);
    if (a > b) std::swap(a, b);
    if (a == b) return {text, "nothing"};
    const std::string la = text.substr(a, line_end(text, a) - a);
    const std::string lb = text.substr(b, line_end(text, b) - b);
    std::string t = splice(text, b, b + lb.size(), la);
    t = splice(t, a, a + la.size(), lb);
    return {t, at_line(a) + " swapped with " + at_line(b)};
  }
  if (kind < 87 && !lines.empty()) {  // indentation changed, or a tab in it
    const std::size_t ls = pick(rng, lines);
    static const std::vector<std::string> indents = {"\t", " ", "    ", "\t  "};
    const std::string& in = pick(rng, indents);
    const bool remove = rng.bernoulli(0.3) && text[ls] == ' ';
    return {remove ? splice(text, ls, ls + 1, "") : splice(text, ls, ls, in),
            at_line(ls) + (remove ? " dedented" : " indented by " + shorten(in))};
  }
  if (kind < 90) {  // an odd line inserted
    const std::size_t ls = lines.empty() ? 0 : pick(rng, lines);
    const std::string& g = pick(rng, garbage_lines());
    return {splice(text, ls, ls, g + "\n"), at_line(ls) + ": inserted " + shorten(g)};
  }
  if (kind < 93) {  // truncated
    const std::size_t at = text.empty() ? 0 : rng.uniform_int(text.size());
    return {text.substr(0, at), "truncated at byte " + std::to_string(at)};
  }
  if (kind < 96) {  // a byte-order mark at the start or in the middle
    const std::size_t ls = lines.empty() || rng.bernoulli(0.5) ? 0 : pick(rng, lines);
    return {splice(text, ls, ls, "\xEF\xBB\xBF"), at_line(ls) + ": byte-order mark inserted"};
  }
  // a few bytes overwritten with any byte
  std::string t = text;
  std::string what = "bytes changed:";
  for (int n = 0; n < 3 && !t.empty(); ++n) {
    const std::size_t at = rng.uniform_int(t.size());
    const auto b = static_cast<char>(rng.uniform_int(256));
    t[at] = b;
    what += " " + std::to_string(at) + "=" + std::to_string(static_cast<unsigned char>(b));
  }
  return {t, what};
}

/// One to three mutations of `text` (mostly one).
inline Mutated mutate(const std::string& text, Rng& rng) {
  const std::uint64_t r = rng.uniform_int(10);
  const int n = r < 7 ? 1 : r < 9 ? 2 : 3;
  Mutated m{text, ""};
  for (int i = 0; i < n; ++i) {
    Mutated next = mutate_once(m.text, rng);
    m.what += (i == 0 ? "" : "; ") + next.what;
    m.text = std::move(next.text);
  }
  return m;
}

}  // namespace moesim::fuzz
