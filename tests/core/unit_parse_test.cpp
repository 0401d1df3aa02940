#include "sim/core/unit_parse.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace moesim {
namespace {

/// Runs `parse` on `text` and returns the UnitError it throws; fails the test if none.
template <class Parse>
UnitError unit_error(Parse parse, std::string_view text) {
  try {
    parse(text);
  } catch (const UnitError& e) {
    return e;
  }
  FAIL("no UnitError for \"" << std::string{text} << "\"");
  return UnitError("", "");
}

}  // namespace

TEST_CASE("data sizes read SI and IEC prefixes as distinct powers") {
  // 141 GB = 141 x 10^9 B (SI), 96 GiB = 96 x 2^30 B = 103,079,215,104 B (IEC).
  CHECK(parse_bytes("141 GB") == bytes(141'000'000'000));
  CHECK(parse_bytes("96 GiB") == bytes(103'079'215'104));
  CHECK(parse_bytes("96 GiB") == gibibytes(96));
  CHECK(parse_bytes("64 MiB") == mebibytes(64));               // 64 x 2^20
  CHECK(parse_bytes("512 B") == bytes(512));                   // no prefix
  CHECK(parse_bytes("4 KiB") == bytes(4096));                  // 4 x 1024
  CHECK(parse_bytes("4 kB") == bytes(4000));                   // 4 x 1000
  CHECK(parse_bytes("4 KB") == bytes(4000));                   // K is read as SI kilo, like k
  CHECK(parse_bytes("3 MB") == bytes(3'000'000));              // 3 x 10^6
  CHECK(parse_bytes("1.5 TB") == bytes(1'500'000'000'000));    // 1.5 x 10^12
  CHECK(parse_bytes("2 PB") == bytes(2'000'000'000'000'000));  // 2 x 10^15
  CHECK(parse_bytes("1 TiB") == bytes(1'099'511'627'776));     // 2^40
}

TEST_CASE("data sizes are computed exactly from the decimal text") {
  // 1.5 GiB = 3 x 2^29 = 1,610,612,736 B.
  CHECK(parse_bytes("1.5 GiB") == bytes(1'610'612'736));
  // 7.3 GB = 7,300,000,000 B exactly, although 7.3 has no exact binary fraction.
  CHECK(parse_bytes("7.3 GB") == bytes(7'300'000'000));
  // 126.5 MiB = 253 x 2^19 = 132,644,864 B (the H200/B200 L2 size written in catalogs).
  CHECK(parse_bytes("126.5 MiB") == bytes(132'644'864));
  // 0.5 KiB = 512 B: a fraction of a prefix may still be whole bytes.
  CHECK(parse_bytes("0.5 KiB") == bytes(512));
  CHECK(parse_bytes("1e9 B") == bytes(1'000'000'000));
  CHECK(parse_bytes("2.5e-3 MB") == bytes(2500));  // 2.5e-3 x 10^6
  CHECK(parse_bytes("0 B") == bytes(0));
}

TEST_CASE("spaces between number and unit are optional and surrounding spaces are ignored") {
  CHECK(parse_bytes("141GB") == bytes(141'000'000'000));
  CHECK(parse_bytes("  141 GB  ") == bytes(141'000'000'000));
  CHECK(parse_bytes("141\tGB") == bytes(141'000'000'000));
  CHECK(parse_bytes("+141 GB") == bytes(141'000'000'000));
}

TEST_CASE("a size that is not a whole number of bytes is rejected") {
  const UnitError e = unit_error(parse_bytes, "0.3 B");
  CHECK(e.expected() == "a whole number of bytes, such as \"512 B\" or \"1.5 GiB\"");
  CHECK(e.found() == "\"0.3 B\"");
  // 0.1 GiB = 107,374,182.4 B.
  CHECK(unit_error(parse_bytes, "0.1 GiB").expected().starts_with("a whole number of bytes"));
}

TEST_CASE("a size past int64 or with too many digits is rejected") {
  // 2^63 - 1 = 9,223,372,036,854,775,807 < 10^19.
  CHECK(unit_error(parse_bytes, "1e19 B").expected() == "a data size below 2^63 bytes");
  CHECK(unit_error(parse_bytes, "10000 PB").expected() == "a data size below 2^63 bytes");
  CHECK(parse_bytes("9.2e18 B") == bytes(9'200'000'000'000'000'000));  // just below 2^63
  // 19 significant digits do not fit the exact 18-digit mantissa.
  CHECK(unit_error(parse_bytes, "1.234567890123456789 GB").expected() ==
        "a data size with at most 18 significant digits");
}

TEST_CASE("data rates read bytes and bits per second") {
  CHECK(parse_bandwidth("900 GB/s") == gigabytes_per_second(900));
  CHECK(parse_bandwidth("7.7 TB/s") == terabytes_per_second(7.7));
  // 400 Gb/s = 400 x 10^9 bit/s / 8 = 50 x 10^9 B/s.
  CHECK(parse_bandwidth("400 Gb/s").base() == 50e9);
  CHECK(parse_bandwidth("400 Gbps").base() == 50e9);
  CHECK(parse_bandwidth("400 Gb/s") == gigabits_per_second(400));
  // 50 GiB/s = 50 x 2^30 B/s = 53,687,091,200 B/s.
  CHECK(parse_bandwidth("50 GiB/s").base() == 53'687'091'200.0);
  CHECK(parse_bandwidth("100 MB/s").base() == 100e6);
  CHECK(parse_bandwidth("25 kB/s").base() == 25e3);
  CHECK(parse_bandwidth("8 b/s").base() == 1.0);     // 8 bits = 1 byte
  CHECK(parse_bandwidth("1 Tb/s").base() == 125e9);  // 10^12 / 8
}

TEST_CASE("durations read every time unit and are exact in picoseconds") {
  CHECK(parse_duration("2 us") == microseconds(2));
  CHECK(parse_duration("2 \xC2\xB5s") == microseconds(2));        // U+00B5 MICRO SIGN
  CHECK(parse_duration("2 \xCE\xBCs") == microseconds(2));        // U+03BC GREEK SMALL LETTER MU
  CHECK(parse_duration("1.5 ms") == picoseconds(1'500'000'000));  // 1.5 x 10^9 ps
  CHECK(parse_duration("3 s") == picoseconds(3'000'000'000'000));
  CHECK(parse_duration("250 ns") == nanoseconds(250));
  CHECK(parse_duration("71 ps") == picoseconds(71));                   // a 64 B NVLink transfer
  CHECK(parse_duration("2 min") == picoseconds(120'000'000'000'000));  // 120 s
  CHECK(parse_duration("1 h") == picoseconds(3'600'000'000'000'000));  // 3600 s
  // 2.3 ns = 2300 ps exactly, where 2.3 * 1000 in binary floating point is 2299.99...
  CHECK(parse_duration("2.3 ns") == picoseconds(2300));
  CHECK(parse_duration("1e-9 s") == picoseconds(1000));
  CHECK(parse_duration("0 s") == Duration::zero());
}

TEST_CASE("durations round up to whole picoseconds with at least one tick") {
  CHECK(parse_duration("0.5 ps") == picoseconds(1));
  CHECK(parse_duration("1.0001 ps") == picoseconds(2));  // ceil(1.0001)
  CHECK(parse_duration("1e-20 s") == picoseconds(1));    // 10^-8 ps, positive: 1 tick
  CHECK(parse_duration("0.0015 ns") == picoseconds(2));  // 1.5 ps -> 2
}

TEST_CASE("a duration past int64 picoseconds is rejected") {
  // 10^7 s = 10^19 ps > 2^63 - 1 ps (about 9.2 x 10^6 s, 106 days).
  CHECK(unit_error(parse_duration, "1e7 s").expected() ==
        "a duration below 2^63 ps (about 106 days)");
  CHECK(parse_duration("2000 h") == picoseconds(7'200'000'000'000'000'000));  // 7.2e6 s
}

TEST_CASE("compute rates read FLOP/s and FLOPS") {
  CHECK(parse_flop_rate("2.25 PFLOP/s") == petaflop_per_second(2.25));
  CHECK(parse_flop_rate("989.4 TFLOP/s") == teraflop_per_second(989.4));
  CHECK(parse_flop_rate("1979 TFLOPS") == teraflop_per_second(1979));
  CHECK(parse_flop_rate("5 EFLOP/s").base() == 5e18);
  CHECK(parse_flop_rate("10 GFLOP/s").base() == 10e9);
}

TEST_CASE("amounts of work read FLOP") {
  CHECK(parse_flops("3.2 TFLOP") == flops(3.2 * scale::kTera));
  CHECK(parse_flops("1e9 FLOP") == flops(1e9));
  CHECK(parse_flops("2 GFLOP").base() == 2e9);
}

TEST_CASE("powers read W, kW and MW") {
  CHECK(parse_power("1200 W") == watts(1200));
  CHECK(in_watts(parse_power("1.2 kW")) == doctest::Approx(1200.0));
  CHECK(in_kilowatts(parse_power("120 kW")) == doctest::Approx(120.0));
  CHECK(parse_power("1 MW").base() == 1e6);
}

TEST_CASE("prices per time are stored per second") {
  CHECK(parse_money_rate("$2.10/h") == usd_per_hour(2.10));
  CHECK(parse_money_rate("$2.10/hr") == usd_per_hour(2.10));
  CHECK(parse_money_rate("$2.10/hour") == usd_per_hour(2.10));
  // $0.05/min = $3/h.
  CHECK(in_usd_per_hour(parse_money_rate("$0.05/min")) == doctest::Approx(3.0));
  // $1460/month over 730 h = $2/h.
  CHECK(in_usd_per_hour(parse_money_rate("$1460/month")) == doctest::Approx(2.0));
  CHECK(parse_money_rate("$1/s").base() == 1.0);
  CHECK(parse_money_rate(" $ 2.10 /h ") == usd_per_hour(2.10));
}

TEST_CASE("a missing unit says so and shows an example with its unit") {
  UnitError e = unit_error(parse_bandwidth, "900");
  CHECK(e.expected() == "a data rate with its unit, such as \"900 GB/s\"");
  CHECK(e.found() == "\"900\"");
  CHECK(std::string{e.what()} ==
        "expected a data rate with its unit, such as \"900 GB/s\", found \"900\"");
  CHECK(unit_error(parse_bytes, "141").expected() ==
        "a data size with its unit, such as \"141 GB\"");
  CHECK(unit_error(parse_duration, "2").expected() == "a duration with its unit, such as \"2 us\"");
  CHECK(unit_error(parse_flop_rate, "989").expected() ==
        "a compute rate with its unit, such as \"2.25 PFLOP/s\"");
  CHECK(unit_error(parse_flops, "1e9").expected() ==
        "an amount of work with its unit, such as \"3.2 TFLOP\"");
  CHECK(unit_error(parse_power, "700").expected() == "a power with its unit, such as \"1200 W\"");
  CHECK(unit_error(parse_money_rate, "2.10").expected() ==
        "a price per time with its unit, such as \"$2.10/h\"");
  CHECK(unit_error(parse_money_rate, "$2.10").expected() ==
        "a price per time with its unit, such as \"$2.10/h\"");
}

TEST_CASE("an unknown unit or trailing text names the accepted form") {
  const UnitError e = unit_error(parse_bandwidth, "900 GB/sec");
  CHECK(e.expected() == "a data rate such as \"900 GB/s\" or \"400 Gb/s\"");
  CHECK(e.found() == "\"900 GB/sec\"");
  CHECK(unit_error(parse_bandwidth, "900 GB/s extra").found() == "\"900 GB/s extra\"");
  CHECK(unit_error(parse_bandwidth, "900 gb/s").expected() ==
        quantity_form(QuantityKind::kBandwidth));
  CHECK(unit_error(parse_bytes, "141 Gb").expected() ==
        "a data size such as \"141 GB\" or \"96 GiB\"");  // bits are not a size
  CHECK(unit_error(parse_bytes, "141 gB").expected() == quantity_form(QuantityKind::kBytes));
  CHECK(unit_error(parse_duration, "2 m").expected() ==
        "a duration such as \"2 us\" or \"1.5 ms\"");  // m is not minutes
  CHECK(unit_error(parse_duration, "2 sec").expected() == quantity_form(QuantityKind::kDuration));
  CHECK(unit_error(parse_flop_rate, "2.25 PFLOPs").expected() ==
        "a compute rate such as \"2.25 PFLOP/s\" or \"1979 TFLOPS\"");
  CHECK(unit_error(parse_flops, "3.2 TFLOP/s").expected() ==
        "an amount of work such as \"3.2 TFLOP\" or \"1e9 FLOP\"");  // a rate is not work
  CHECK(unit_error(parse_power, "1.2 KW").expected() == "a power such as \"1200 W\" or \"1.2 kW\"");
  CHECK(unit_error(parse_money_rate, "2.10/h").expected() ==
        "a price per time such as \"$2.10/h\" or \"$1500/month\"");  // no dollar sign
  CHECK(unit_error(parse_money_rate, "$2.10/day").expected() ==
        quantity_form(QuantityKind::kMoneyRate));
}

TEST_CASE("empty text and text without a number are rejected") {
  const UnitError e = unit_error(parse_bytes, "");
  CHECK(e.expected() == quantity_form(QuantityKind::kBytes));
  CHECK(e.found() == "\"\"");
  CHECK(unit_error(parse_bytes, "GB").found() == "\"GB\"");
  CHECK(unit_error(parse_bytes, "   ").expected() == quantity_form(QuantityKind::kBytes));
  CHECK(unit_error(parse_power, "lots of W").expected() == quantity_form(QuantityKind::kPower));
}

TEST_CASE("negative, NaN and infinite values are rejected") {
  CHECK(unit_error(parse_bandwidth, "-900 GB/s").expected() ==
        "a non-negative data rate such as \"900 GB/s\"");
  CHECK(unit_error(parse_duration, "-2 us").expected() ==
        "a non-negative duration such as \"2 us\"");
  CHECK(unit_error(parse_money_rate, "$-2/h").expected() ==
        "a non-negative price per time such as \"$2.10/h\"");
  CHECK(unit_error(parse_bandwidth, "nan GB/s").expected() ==
        "a finite data rate such as \"900 GB/s\"");
  CHECK(unit_error(parse_bandwidth, "inf GB/s").expected() ==
        "a finite data rate such as \"900 GB/s\"");
  CHECK(unit_error(parse_bandwidth, ".inf GB/s").expected() ==
        "a finite data rate such as \"900 GB/s\"");
  CHECK(unit_error(parse_power, "Infinity W").expected() == "a finite power such as \"1200 W\"");
  // 10^400 overflows a double; 10^300 x 10^15 overflows after scaling.
  CHECK(unit_error(parse_flops, "1e400 FLOP").expected() ==
        "a finite amount of work such as \"3.2 TFLOP\"");
  // 10^-400 is below the smallest double (about 4.9 x 10^-324).
  CHECK(unit_error(parse_power, "1e-400 W").expected() ==
        "a representable power such as \"1200 W\"");
  CHECK(unit_error(parse_flop_rate, "1e300 PFLOP/s").expected() ==
        "a finite compute rate such as \"2.25 PFLOP/s\"");
}

TEST_CASE("thousands separators are rejected with a hint") {
  const UnitError e = unit_error(parse_money_rate, "$1,000/month");
  CHECK(e.expected() ==
        "a price per time such as \"$2.10/h\" or \"$1500/month\", without thousands separators");
  CHECK(e.found() == "\"$1,000/month\"");
  CHECK(unit_error(parse_bytes, "1,000 GB").expected().ends_with("without thousands separators"));
}

TEST_CASE("quantity_form describes each kind with two examples") {
  CHECK(quantity_form(QuantityKind::kBandwidth) ==
        "a data rate such as \"900 GB/s\" or \"400 Gb/s\"");
  CHECK(quantity_form(QuantityKind::kDuration) == "a duration such as \"2 us\" or \"1.5 ms\"");
}

TEST_CASE("ceil_duration rounds up to whole picoseconds with a one-tick minimum") {
  CHECK(ceil_duration(0.0) == Duration::zero());
  CHECK(ceil_duration(1e-15) == picoseconds(1));              // 0.001 ps lasts one tick
  CHECK(ceil_duration(2.5e-12) == picoseconds(3));            // 2.5 ps -> 3
  CHECK(ceil_duration(0.5) == picoseconds(500'000'000'000));  // exact: 0.5 s = 5 x 10^11 ps
  CHECK_THROWS_AS(ceil_duration(-1.0), InvariantError);
  CHECK_THROWS_AS(ceil_duration(1e7), InvariantError);  // 10^19 ps overflows int64
}

}  // namespace moesim
