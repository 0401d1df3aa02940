#include "sim/core/units.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <string>

#include "sim/core/dtype.hpp"
#include "sim/core/error.hpp"

using namespace moesim;

TEST_CASE("named constructors store one base unit, SI and IEC prefixes kept apart") {
  // kibi = 2^10, mebi = 2^20, gibi = 2^30 bytes.
  CHECK(kibibytes(1) == bytes(1024));
  CHECK(mebibytes(1) == bytes(1024 * 1024));
  CHECK(gibibytes(1) == bytes(1073741824));
  // 1 GiB = 2^30 B = 1.073741824 GB (SI giga = 1e9).
  CHECK(in_gigabytes(gibibytes(1)) == doctest::Approx(1.073741824));
  CHECK(in_gibibytes(gibibytes(3)) == doctest::Approx(3.0));
  // 8 Gbit/s = 1 GB/s: 8 bits per byte.
  CHECK(in_gigabytes_per_second(gigabits_per_second(8)) == doctest::Approx(1.0));
  CHECK(in_terabytes_per_second(terabytes_per_second(4.8)) == doctest::Approx(4.8));
  CHECK(in_petaflop_per_second(petaflop_per_second(2.25)) == doctest::Approx(2.25));
  CHECK(in_teraflop_per_second(petaflop_per_second(2.25)) == doctest::Approx(2250.0));
  // $3.60/h = 3.6 / 3600 $/s = 0.001 $/s, and back.
  CHECK(usd_per_hour(3.6).base() == doctest::Approx(0.001));
  CHECK(in_usd_per_hour(usd_per_hour(2.5)) == doctest::Approx(2.5));
  CHECK(in_kilowatts(watts(1200)) == doctest::Approx(1.2));
  // 1 ms = 1e9 ps, 1 us = 1e6 ps, 1 ns = 1e3 ps.
  CHECK(milliseconds(1).count() == 1'000'000'000);
  CHECK(microseconds(1).count() == 1'000'000);
  CHECK(nanoseconds(1).count() == 1'000);
  CHECK(to_milliseconds(milliseconds(7)) == doctest::Approx(7.0));
  CHECK(to_microseconds(nanoseconds(2500)) == doctest::Approx(2.5));
}

TEST_CASE("quantities add, subtract, scale and divide within one kind") {
  CHECK(bytes(3) + bytes(4) == bytes(7));
  CHECK(bytes(10) - bytes(4) == bytes(6));
  CHECK(bytes(5) * 3 == bytes(15));
  CHECK(2 * bytes(5) == bytes(10));
  Bytes b = bytes(1);
  b += bytes(2);
  b -= bytes(1);
  CHECK(b == bytes(2));
  // A ratio of like quantities is a plain number: 900 GB/s / 450 GB/s = 2.
  CHECK(gigabytes_per_second(900) / gigabytes_per_second(450) == doctest::Approx(2.0));
  CHECK(bytes(1) < bytes(2));
}

TEST_CASE("bytes over bandwidth is a duration rounded up to whole picoseconds") {
  // 64 B at 900 GB/s: 64 / 9e11 s = 71.11 ps, rounded up to 72 ps.
  CHECK((bytes(64) / gigabytes_per_second(900)).count() == 72);
  // 1 MB at 1 GB/s: exactly 1e6 / 1e9 s = 1 ms = 1e9 ps; nothing to round.
  CHECK((bytes(1'000'000) / gigabytes_per_second(1)) == milliseconds(1));
  // 10 B at 3 GB/s: 3333.33 ps -> 3334 ps.
  CHECK((bytes(10) / gigabytes_per_second(3)).count() == 3334);
}

TEST_CASE("an exact quotient is not rounded up twice") {
  // 1 B at 1 GB/s is exactly 1 ns = 1000 ps. Computing seconds first (1e-9, inexact in binary)
  // and then multiplying by 1e12 gives 1000.0000000000001, which a second rounding (ceil) turns
  // into 1001 ps. Rounding once means b * 1e12 / bw in one division, as units.hpp does.
  CHECK((bytes(1) / gigabytes_per_second(1)).count() == 1000);
  // 2 B at 2 GB/s: likewise exactly 1000 ps.
  CHECK((bytes(2) / gigabytes_per_second(2)).count() == 1000);
  // 1 GFLOP at 1 TFLOP/s = 1 ms exactly.
  CHECK((flops(1e9) / teraflop_per_second(1)) == milliseconds(1));
}

TEST_CASE("any positive work lasts at least one tick and zero work lasts zero") {
  // 1 B at 1000 TB/s = 1e-15 s = 0.001 ps, rounded up to 1 ps.
  CHECK((bytes(1) / terabytes_per_second(1000)).count() == 1);
  // 1 FLOP at 2.25 PFLOP/s = 4.4e-16 s, rounded up to 1 ps.
  CHECK((flops(1) / petaflop_per_second(2.25)).count() == 1);
  CHECK((bytes(0) / gigabytes_per_second(900)) == Duration::zero());
  CHECK((flops(0) / teraflop_per_second(1)) == Duration::zero());
  CHECK(ceil_duration(0.0) == Duration::zero());
  // 1e-13 s = 0.1 ps -> 1 ps.
  CHECK(ceil_duration(1e-13).count() == 1);
}

TEST_CASE("FLOPs over FLOP rate is a duration rounded up") {
  // 1e12 FLOP at 1 TFLOP/s = 1 s = 1e12 ps.
  CHECK((flops(1e12) / teraflop_per_second(1)).count() == 1'000'000'000'000);
  // 1e6 FLOP at 3 TFLOP/s = 333.33 ns = 333333.33 ps -> 333334 ps.
  CHECK((flops(1e6) / teraflop_per_second(3)).count() == 333'334);
}

TEST_CASE("power times time is energy and a money rate times time is money") {
  // 700 W for 2 ms = 1.4 J.
  CHECK(in_joules(watts(700) * milliseconds(2)) == doctest::Approx(1.4));
  // $3.60/h = $0.001/s; over 1000 s (1e6 ms) that is $1.
  CHECK(in_usd(usd_per_hour(3.6) * milliseconds(1'000'000)) == doctest::Approx(1.0));
  // 100 GB/s for 1 us moves 1e11 * 1e-6 = 1e5 bytes.
  CHECK(bytes_moved(gigabytes_per_second(100), microseconds(1)) == doctest::Approx(1e5));
}

TEST_CASE("durations that overflow int64 picoseconds throw InvariantError") {
  // int64 ps holds 9.22e18 ps = 9.22e6 s; 1e8 s does not fit.
  CHECK_THROWS_AS(ceil_duration(1e8), InvariantError);
  // 1 TiB at 1 B/s = 1.1e12 s: far past the range.
  CHECK_THROWS_AS(bytes(scale::kTebi) / bytes_per_second(1), InvariantError);
  // 1e6 s = 1e18 ps still fits.
  CHECK(ceil_duration(1e6).count() == 1'000'000'000'000'000'000);
}

TEST_CASE("invalid durations and rates throw InvariantError") {
  CHECK_THROWS_AS(ceil_duration(-1.0), InvariantError);
  CHECK_THROWS_AS(ceil_duration(std::numeric_limits<double>::quiet_NaN()), InvariantError);
  CHECK_THROWS_AS(ceil_duration(std::numeric_limits<double>::infinity()), InvariantError);
  CHECK_THROWS_AS(bytes(1) / bytes_per_second(0), InvariantError);
  CHECK_THROWS_AS(flops(1) / flop_per_second(-1), InvariantError);
}

TEST_CASE("data type names round trip and parse case-insensitively") {
  for (DType t : kAllDTypes) {
    const std::string_view name = to_string(t);
    CAPTURE(name);
    REQUIRE(parse_dtype(name).has_value());
    CHECK(*parse_dtype(name) == t);
  }
  CHECK(parse_dtype("BF16") == DType::kBF16);
  CHECK(parse_dtype("Fp8") == DType::kFP8);
  CHECK_FALSE(parse_dtype("bf17").has_value());
  CHECK_FALSE(parse_dtype("").has_value());
}

TEST_CASE("data type widths are their storage bits") {
  CHECK(bits_of(DType::kFP4) == 4);
  CHECK(bits_of(DType::kFP6) == 6);
  CHECK(bits_of(DType::kFP8) == 8);
  CHECK(bits_of(DType::kINT8) == 8);
  CHECK(bits_of(DType::kBF16) == 16);
  CHECK(bits_of(DType::kFP16) == 16);
  CHECK(bits_of(DType::kTF32) == 32);  // stored as 32-bit
  CHECK(bits_of(DType::kFP32) == 32);
  CHECK(bits_of(DType::kFP64) == 64);
}

TEST_CASE("peak rates hold one positive rate per supported data type") {
  PeakRates rates;
  CHECK_FALSE(rates.has(DType::kFP4));
  rates.set(DType::kBF16, teraflop_per_second(100));  // an arbitrary rate, not a GPU's
  REQUIRE(rates.get(DType::kBF16).has_value());
  CHECK(in_teraflop_per_second(*rates.get(DType::kBF16)) == doctest::Approx(100.0));
  CHECK_FALSE(rates.has(DType::kFP8));
  CHECK_THROWS_AS(rates.set(DType::kFP8, teraflop_per_second(0)), InvariantError);
}
