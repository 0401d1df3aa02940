#include "sim/core/unit_parse.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <system_error>

namespace moesim {
namespace {

/// Words and examples that describe one kind of quantity in messages.
struct KindText {
  std::string_view noun;     ///< "a data rate"
  std::string_view example;  ///< "900 GB/s"
  std::string_view other;    ///< a second example, or empty
};

KindText text_of(QuantityKind kind) {
  switch (kind) {
    case QuantityKind::kBytes: return {"a data size", "141 GB", "96 GiB"};
    case QuantityKind::kBandwidth: return {"a data rate", "900 GB/s", "400 Gb/s"};
    case QuantityKind::kDuration: return {"a duration", "2 us", "1.5 ms"};
    case QuantityKind::kFlopRate: return {"a compute rate", "2.25 PFLOP/s", "1979 TFLOPS"};
    case QuantityKind::kFlops: return {"an amount of work", "3.2 TFLOP", "1e9 FLOP"};
    case QuantityKind::kPower: return {"a power", "1200 W", "1.2 kW"};
    case QuantityKind::kMoneyRate: return {"a price per time", "$2.10/h", "$1500/month"};
  }
  return {"a quantity", "1 s", ""};
}

std::string quoted(std::string_view text) { return "\"" + std::string{text} + "\""; }

/// `<adjective> <noun> such as "x"`, e.g. "a non-negative data rate such as "900 GB/s"".
std::string form_with(QuantityKind kind, std::string_view adjective) {
  const KindText t = text_of(kind);
  std::string noun{t.noun};
  if (!adjective.empty()) noun = "a " + std::string{adjective} + noun.substr(noun.find(' '));
  return noun + " such as " + quoted(t.example);
}

[[noreturn]] void fail(std::string expected, std::string_view text) {
  throw UnitError(std::move(expected), quoted(text));
}

bool is_space(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// A string split into its number and its unit: "1.5 GiB" -> {"1.5", "GiB"}.
struct Lexed {
  std::string_view number;
  std::string_view unit;
};

/// Splits `text` (already without a leading '$' for prices); rejects an empty string, a
/// non-number, NaN, infinity, a negative and a missing unit, each with its own message.
Lexed lex(std::string_view original, std::string_view text, QuantityKind kind) {
  const KindText t = text_of(kind);
  const std::string form = quantity_form(kind);
  const std::string_view s = trim(text);
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  const std::size_t digits_begin = i;
  std::size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) {
    std::string_view word = s.substr(digits_begin);
    word = word.substr(0, word.find_first_of(" \t"));
    if (!word.empty() && word.front() == '.') word.remove_prefix(1);
    for (std::string_view bad : {"nan", "inf", "infinity"}) {
      if (equals_ignoring_case(word, bad)) fail(form_with(kind, "finite"), original);
    }
    fail(form, original);
  }
  if (i + 1 < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
    if (j < s.size() && is_digit(s[j])) {
      while (j < s.size() && is_digit(s[j])) ++j;
      i = j;
    }
  }
  if (s.front() == '-') fail(form_with(kind, "non-negative"), original);
  Lexed out{s.substr(s.front() == '+' ? 1 : 0, s.front() == '+' ? i - 1 : i), trim(s.substr(i))};
  if (out.unit.empty()) {
    fail(std::string{t.noun} + " with its unit, such as " + quoted(t.example), original);
  }
  if (out.unit.front() == ',') {
    fail(form + ", without thousands separators", original);
  }
  return out;
}

/// The number of a lexed string as a double; past the double range it is not finite, below
/// the smallest double it is not representable.
double to_double(std::string_view number, std::string_view original, QuantityKind kind) {
  double v = 0.0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
  if (ec == std::errc::result_out_of_range) {
    const bool tiny =
        number.find("e-") != std::string_view::npos || number.find("E-") != std::string_view::npos;
    fail(form_with(kind, tiny ? "representable" : "finite"), original);
  }
  MOESIM_ASSERT(ec == std::errc{} && end == number.data() + number.size(),
                "lexed number must be a valid decimal");
  return v;
}

/// A decimal number held exactly: mantissa * 10^exponent.
struct Decimal {
  std::uint64_t mantissa = 0;
  int exponent = 0;
};

inline constexpr std::size_t kMaxSignificantDigits = 18;

Decimal to_decimal(std::string_view number, std::string_view original, QuantityKind kind) {
  std::string digits;
  int exponent = 0;
  std::size_t i = 0;
  bool after_point = false;
  for (; i < number.size() && (is_digit(number[i]) || number[i] == '.'); ++i) {
    if (number[i] == '.') {
      after_point = true;
      continue;
    }
    digits += number[i];
    if (after_point) --exponent;
  }
  if (i < number.size()) {  // exponent part: [eE][+-]?digits
    int e = 0;
    const auto [end, ec] = std::from_chars(number.data() + i + 1 + (number[i + 1] == '+' ? 1 : 0),
                                           number.data() + number.size(), e);
    if (ec != std::errc{} || e > 1000 || e < -1000) fail(form_with(kind, "finite"), original);
    MOESIM_ASSERT(end == number.data() + number.size(), "lexed exponent must be whole");
    exponent += e;
  }
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return {};
  digits.erase(0, first);
  while (digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  if (digits.size() > kMaxSignificantDigits) {
    fail(std::string{text_of(kind).noun} + " with at most 18 significant digits", original);
  }
  Decimal d;
  d.exponent = exponent;
  std::from_chars(digits.data(), digits.data() + digits.size(), d.mantissa);
  return d;
}

__extension__ using Wide = unsigned __int128;

/// The exact value of `d * multiplier` as an integer: std::nullopt when it is not whole (or,
/// with `round_up`, rounded up). Values past int64 throw `too_large`.
std::optional<std::int64_t> scale_exactly(Decimal d, std::int64_t multiplier, bool round_up,
                                          const std::string& too_large, std::string_view original) {
  constexpr Wide kMax = static_cast<Wide>(std::numeric_limits<std::int64_t>::max());
  Wide p = static_cast<Wide>(d.mantissa) * static_cast<Wide>(multiplier);
  if (p == 0) return 0;
  if (d.exponent >= 0) {
    for (int k = 0; k < d.exponent; ++k) {
      if (p > kMax) break;
      p *= 10;
    }
    if (p > kMax) fail(too_large, original);
    return static_cast<std::int64_t>(p);
  }
  // p < 10^18 * 2^62 < 10^37, so dividing by 10^37 or more leaves a fraction in (0, 1).
  constexpr int kMaxDivisorExponent = 37;
  if (-d.exponent >= kMaxDivisorExponent)
    return round_up ? std::optional<std::int64_t>{1} : std::nullopt;
  Wide divisor = 1;
  for (int k = 0; k < -d.exponent; ++k) divisor *= 10;
  Wide q = p / divisor;
  const bool whole = p % divisor == 0;
  if (!whole && !round_up) return std::nullopt;
  if (!whole) q += 1;
  if (q > kMax) fail(too_large, original);
  return static_cast<std::int64_t>(q);
}

/// One unit spelling and its factor to the base unit.
template <class Factor>
struct Unit {
  std::string_view name;
  Factor factor;
};

template <class Factor>
std::optional<Factor> find_unit(std::span<const Unit<Factor>> units, std::string_view name) {
  for (const auto& u : units) {
    if (u.name == name) return u.factor;
  }
  return std::nullopt;
}

std::int64_t as_integer(double exact) { return static_cast<std::int64_t>(std::llround(exact)); }

/// Parses a quantity whose base unit is a double (B/s, FLOP/s, FLOP, W).
double parse_real(std::string_view text, QuantityKind kind, std::span<const Unit<double>> units) {
  const Lexed l = lex(text, text, kind);
  const auto factor = find_unit(units, l.unit);
  if (!factor) fail(quantity_form(kind), text);
  const double v = to_double(l.number, text, kind) * *factor;
  if (!std::isfinite(v)) fail(form_with(kind, "finite"), text);
  return v;
}

}  // namespace

UnitError::UnitError(std::string expected, std::string found)
    : Error("expected " + expected + ", found " + found),
      expected_(std::move(expected)),
      found_(std::move(found)) {}

std::string quantity_form(QuantityKind kind) {
  const KindText t = text_of(kind);
  return std::string{t.noun} + " such as " + quoted(t.example) + " or " + quoted(t.other);
}

Bytes parse_bytes(std::string_view text) {
  static constexpr std::array<Unit<std::int64_t>, 11> kUnits{{
      {"B", 1},
      {"kB", static_cast<std::int64_t>(scale::kKilo)},
      {"KB", static_cast<std::int64_t>(scale::kKilo)},
      {"MB", static_cast<std::int64_t>(scale::kMega)},
      {"GB", static_cast<std::int64_t>(scale::kGiga)},
      {"TB", static_cast<std::int64_t>(scale::kTera)},
      {"PB", static_cast<std::int64_t>(scale::kPeta)},
      {"KiB", scale::kKibi},
      {"MiB", scale::kMebi},
      {"GiB", scale::kGibi},
      {"TiB", scale::kTebi},
  }};
  constexpr QuantityKind kind = QuantityKind::kBytes;
  const Lexed l = lex(text, text, kind);
  const auto factor = find_unit<std::int64_t>(kUnits, l.unit);
  if (!factor) fail(quantity_form(kind), text);
  const auto n = scale_exactly(to_decimal(l.number, text, kind), *factor, false,
                               "a data size below 2^63 bytes", text);
  if (!n) fail("a whole number of bytes, such as \"512 B\" or \"1.5 GiB\"", text);
  return bytes(*n);
}

Bandwidth parse_bandwidth(std::string_view text) {
  using scale::kBitsPerByte;
  static constexpr std::array<Unit<double>, 23> kUnits{{
      {"B/s", 1.0},
      {"kB/s", scale::kKilo},
      {"KB/s", scale::kKilo},
      {"MB/s", scale::kMega},
      {"GB/s", scale::kGiga},
      {"TB/s", scale::kTera},
      {"PB/s", scale::kPeta},
      {"KiB/s", static_cast<double>(scale::kKibi)},
      {"MiB/s", static_cast<double>(scale::kMebi)},
      {"GiB/s", static_cast<double>(scale::kGibi)},
      {"TiB/s", static_cast<double>(scale::kTebi)},
      {"b/s", 1.0 / kBitsPerByte},
      {"kb/s", scale::kKilo / kBitsPerByte},
      {"Kb/s", scale::kKilo / kBitsPerByte},
      {"Mb/s", scale::kMega / kBitsPerByte},
      {"Gb/s", scale::kGiga / kBitsPerByte},
      {"Tb/s", scale::kTera / kBitsPerByte},
      {"bps", 1.0 / kBitsPerByte},
      {"kbps", scale::kKilo / kBitsPerByte},
      {"Kbps", scale::kKilo / kBitsPerByte},
      {"Mbps", scale::kMega / kBitsPerByte},
      {"Gbps", scale::kGiga / kBitsPerByte},
      {"Tbps", scale::kTera / kBitsPerByte},
  }};
  return bytes_per_second(parse_real(text, QuantityKind::kBandwidth, kUnits));
}

Duration parse_duration(std::string_view text) {
  using scale::kPicosecondsPerSecond;
  static const std::array<Unit<std::int64_t>, 10> kUnits{{
      {"ps", as_integer(scale::kPico * kPicosecondsPerSecond)},
      {"ns", as_integer(scale::kNano * kPicosecondsPerSecond)},
      {"us", as_integer(scale::kMicro * kPicosecondsPerSecond)},
      {"\xC2\xB5s", as_integer(scale::kMicro * kPicosecondsPerSecond)},  // U+00B5 micro sign
      {"\xCE\xBCs", as_integer(scale::kMicro * kPicosecondsPerSecond)},  // U+03BC Greek mu
      {"ms", as_integer(scale::kMilli * kPicosecondsPerSecond)},
      {"s", as_integer(kPicosecondsPerSecond)},
      {"min", as_integer(scale::kSecondsPerMinute * kPicosecondsPerSecond)},
      {"h", as_integer(scale::kSecondsPerHour * kPicosecondsPerSecond)},
      {"hr", as_integer(scale::kSecondsPerHour * kPicosecondsPerSecond)},
  }};
  constexpr QuantityKind kind = QuantityKind::kDuration;
  const Lexed l = lex(text, text, kind);
  const auto factor = find_unit<std::int64_t>(kUnits, l.unit);
  if (!factor) fail(quantity_form(kind), text);
  const auto ps = scale_exactly(to_decimal(l.number, text, kind), *factor, true,
                                "a duration below 2^63 ps (about 106 days)", text);
  MOESIM_ASSERT(ps.has_value(), "rounding up always yields a value");
  return picoseconds(*ps);
}

FlopRate parse_flop_rate(std::string_view text) {
  static constexpr std::array<Unit<double>, 14> kUnits{{
      {"FLOP/s", 1.0},
      {"kFLOP/s", scale::kKilo},
      {"MFLOP/s", scale::kMega},
      {"GFLOP/s", scale::kGiga},
      {"TFLOP/s", scale::kTera},
      {"PFLOP/s", scale::kPeta},
      {"EFLOP/s", scale::kExa},
      {"FLOPS", 1.0},
      {"kFLOPS", scale::kKilo},
      {"MFLOPS", scale::kMega},
      {"GFLOPS", scale::kGiga},
      {"TFLOPS", scale::kTera},
      {"PFLOPS", scale::kPeta},
      {"EFLOPS", scale::kExa},
  }};
  return flop_per_second(parse_real(text, QuantityKind::kFlopRate, kUnits));
}

Flops parse_flops(std::string_view text) {
  static constexpr std::array<Unit<double>, 7> kUnits{{
      {"FLOP", 1.0},
      {"kFLOP", scale::kKilo},
      {"MFLOP", scale::kMega},
      {"GFLOP", scale::kGiga},
      {"TFLOP", scale::kTera},
      {"PFLOP", scale::kPeta},
      {"EFLOP", scale::kExa},
  }};
  return flops(parse_real(text, QuantityKind::kFlops, kUnits));
}

Power parse_power(std::string_view text) {
  static constexpr std::array<Unit<double>, 3> kUnits{{
      {"W", 1.0},
      {"kW", scale::kKilo},
      {"MW", scale::kMega},
  }};
  return watts(parse_real(text, QuantityKind::kPower, kUnits));
}

MoneyRate parse_money_rate(std::string_view text) {
  static constexpr std::array<Unit<double>, 6> kUnits{{
      {"/s", 1.0},
      {"/min", scale::kSecondsPerMinute},
      {"/h", scale::kSecondsPerHour},
      {"/hr", scale::kSecondsPerHour},
      {"/hour", scale::kSecondsPerHour},
      {"/month", scale::kHoursPerMonth * scale::kSecondsPerHour},
  }};
  constexpr QuantityKind kind = QuantityKind::kMoneyRate;
  std::string_view s = trim(text);
  const bool dollar = !s.empty() && s.front() == '$';
  if (dollar) s.remove_prefix(1);
  const Lexed l = lex(text, s, kind);
  if (!dollar) fail(quantity_form(kind), text);
  const auto seconds = find_unit<double>(kUnits, l.unit);
  if (!seconds) fail(quantity_form(kind), text);
  const double usd_per_second = to_double(l.number, text, kind) / *seconds;
  if (!std::isfinite(usd_per_second)) fail(form_with(kind, "finite"), text);
  return MoneyRate{usd_per_second};
}

}  // namespace moesim
