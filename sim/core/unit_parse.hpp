#pragma once
/// \file
/// Parsing of quantities written with explicit units, as in YAML and on the command line.
///
/// Accepted forms (a number, optional spaces, a unit; case matters because B != b, M != m):
///   Bytes:      "141 GB", "96 GiB", "64 MiB", "512 B", "4 KiB", "1.5 TB" (SI: k/K, M, G, T, P;
///               IEC: Ki, Mi, Gi, Ti). Computed exactly; results that are not whole bytes are
///               rejected.
///   Bandwidth:  "900 GB/s", "7.7 TB/s", "400 Gb/s" (bits: divided by 8; also "400 Gbps"),
///               "50 GiB/s", "100 MB/s".
///   Duration:   "2 us" (also "µs"), "1.5 ms", "3 s", "250 ns", "71 ps", "2 min", "1 h".
///               Computed exactly and rounded up to whole picoseconds, as ceil_duration() does:
///               any positive time lasts at least 1 ps.
///   FlopRate:   "2.25 PFLOP/s", "989.4 TFLOP/s", "1979 TFLOPS" (FLOPS read as FLOP/s),
///               "5 EFLOP/s".
///   Flops:      "3.2 TFLOP", "1e9 FLOP".
///   Power:      "1200 W", "1.2 kW", "120 kW", "1 MW".
///   MoneyRate:  "$2.10/h", "$2.10/hr", "$0.05/min", "$1500/month" ("/month" uses 730 h);
///               "$1,000/month" is rejected (no thousands separators).
/// The number is decimal, optionally with an exponent ("1e9"); bytes and durations take at
/// most 18 significant digits. Rejected: an empty string, a missing unit, an unknown unit,
/// trailing text, a negative, NaN or infinite value.

#include <string>
#include <string_view>

#include "sim/core/error.hpp"
#include "sim/core/units.hpp"

namespace moesim {

/// A malformed quantity string. `expected()` names the accepted form, `found()` the text; the
/// config layer wraps it into a ConfigError that also says where the text came from.
class UnitError : public Error {
 public:
  /// what() reads "expected <expected>, found <found>".
  UnitError(std::string expected, std::string found);
  /// The accepted form, e.g. `a data rate such as "900 GB/s" or "400 Gb/s"`.
  const std::string& expected() const { return expected_; }
  /// The rejected text in double quotes, e.g. `"900 GB/sec"`.
  const std::string& found() const { return found_; }

 private:
  std::string expected_;
  std::string found_;
};

/// The kinds of quantity the parse_* functions read.
enum class QuantityKind { kBytes, kBandwidth, kDuration, kFlopRate, kFlops, kPower, kMoneyRate };

/// How a quantity of `kind` is written, for messages and parameter documentation, e.g.
/// `a data rate such as "900 GB/s" or "400 Gb/s"`.
std::string quantity_form(QuantityKind kind);

/// Parses a data size; throws UnitError.
Bytes parse_bytes(std::string_view text);
/// Parses a data rate; throws UnitError.
Bandwidth parse_bandwidth(std::string_view text);
/// Parses a time span, rounded up to whole picoseconds; throws UnitError.
Duration parse_duration(std::string_view text);
/// Parses a compute rate; throws UnitError.
FlopRate parse_flop_rate(std::string_view text);
/// Parses an amount of work in FLOP; throws UnitError.
Flops parse_flops(std::string_view text);
/// Parses a power; throws UnitError.
Power parse_power(std::string_view text);
/// Parses a price per time; throws UnitError.
MoneyRate parse_money_rate(std::string_view text);

}  // namespace moesim
