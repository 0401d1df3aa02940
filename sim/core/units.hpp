#pragma once
/// \file
/// Typed physical quantities and simulated time. This is the only file in moesim that holds
/// scale constants (1e12, 1024, ...). Quantities store one base unit each (bytes, FLOP, B/s,
/// FLOP/s, W, J, USD, USD/s); the only cross-type operators are physics:
///   Bytes / Bandwidth -> Duration, Flops / FlopRate -> Duration,
///   Power * Duration -> Energy, MoneyRate * Duration -> Money.
/// Raw numbers leave a quantity only through accessors whose name states the unit.

#include <chrono>
#include <cmath>
#include <compare>
#include <cstdint>
#include <limits>

#include "sim/core/assert.hpp"

namespace moesim {

/// Scale constants. SI prefixes are powers of 1000, IEC prefixes powers of 1024.
namespace scale {
inline constexpr double kKilo = 1e3;
inline constexpr double kMega = 1e6;
inline constexpr double kGiga = 1e9;
inline constexpr double kTera = 1e12;
inline constexpr double kPeta = 1e15;
inline constexpr double kExa = 1e18;
inline constexpr double kMilli = 1e-3;
inline constexpr double kMicro = 1e-6;
inline constexpr double kNano = 1e-9;
inline constexpr double kPico = 1e-12;
inline constexpr std::int64_t kKibi = 1024;
inline constexpr std::int64_t kMebi = kKibi * 1024;
inline constexpr std::int64_t kGibi = kMebi * 1024;
inline constexpr std::int64_t kTebi = kGibi * 1024;
inline constexpr double kBitsPerByte = 8.0;
inline constexpr double kSecondsPerMinute = 60.0;
inline constexpr double kSecondsPerHour = 3600.0;
inline constexpr double kHoursPerMonth = 730.0;  ///< 8760 h / 12, the billing convention.
inline constexpr double kPicosecondsPerSecond = 1e12;
}  // namespace scale

/// Simulated time: integer picoseconds. int64 ps covers about 106 days.
using Duration = std::chrono::duration<std::int64_t, std::pico>;

/// The clock of a simulation; its epoch is the simulation's start.
struct SimClock {
  using rep = std::int64_t;
  using period = std::pico;
  using duration = Duration;
  using time_point = std::chrono::time_point<SimClock, Duration>;
  static constexpr bool is_steady = true;
};

/// A point on a simulation's clock.
using TimePoint = SimClock::time_point;

/// Seconds as a double, for output boundaries and cost functions.
constexpr double to_seconds(Duration d) {
  return static_cast<double>(d.count()) / scale::kPicosecondsPerSecond;
}

/// Duration in milliseconds as a double, for output boundaries.
constexpr double to_milliseconds(Duration d) { return to_seconds(d) / scale::kMilli; }

/// Duration in microseconds as a double, for output boundaries.
constexpr double to_microseconds(Duration d) { return to_seconds(d) / scale::kMicro; }

/// Converts a non-negative, finite number of seconds to a Duration, rounding up to whole
/// picoseconds: zero stays zero, any positive time lasts at least one tick. Overflow asserts.
namespace detail {
/// Rounds a non-negative, finite number of picoseconds up to a Duration: zero stays zero, any
/// positive time lasts at least one tick. Overflow asserts.
inline Duration ceil_picoseconds(double ps) {
  MOESIM_ASSERT(std::isfinite(ps) && ps >= 0.0, "duration must be finite and >= 0");
  if (ps == 0.0) return Duration::zero();
  const double up = std::ceil(ps);
  MOESIM_ASSERT(up < static_cast<double>(std::numeric_limits<std::int64_t>::max()),
                "duration overflows int64 picoseconds");
  return Duration{up < 1.0 ? 1 : static_cast<std::int64_t>(up)};
}
}  // namespace detail

inline Duration ceil_duration(double seconds) {
  MOESIM_ASSERT(std::isfinite(seconds) && seconds >= 0.0, "duration must be finite and >= 0");
  return detail::ceil_picoseconds(seconds * scale::kPicosecondsPerSecond);
}

/// A strongly typed quantity: one base unit, stored as Rep. Same-type addition, subtraction,
/// comparison and scaling by a plain number; the ratio of two equal quantities is a number.
template <class Tag, class Rep>
class Quantity {
 public:
  using rep = Rep;
  constexpr Quantity() = default;
  /// Wraps a value already in the base unit of Tag (see the alias below for the unit).
  constexpr explicit Quantity(Rep base_units) : v_(base_units) {}
  /// The value in the base unit of Tag. Prefer the unit-named helpers at output boundaries.
  constexpr Rep base() const { return v_; }

  constexpr Quantity operator+(Quantity o) const { return Quantity{v_ + o.v_}; }
  constexpr Quantity operator-(Quantity o) const { return Quantity{v_ - o.v_}; }
  constexpr Quantity& operator+=(Quantity o) {
    v_ += o.v_;
    return *this;
  }
  constexpr Quantity& operator-=(Quantity o) {
    v_ -= o.v_;
    return *this;
  }
  constexpr Quantity operator*(Rep k) const { return Quantity{v_ * k}; }
  friend constexpr Quantity operator*(Rep k, Quantity q) { return Quantity{k * q.v_}; }
  constexpr Quantity operator/(Rep k) const { return Quantity{v_ / k}; }
  /// Dimensionless ratio of two quantities of the same kind.
  constexpr double operator/(Quantity o) const {
    return static_cast<double>(v_) / static_cast<double>(o.v_);
  }
  constexpr auto operator<=>(const Quantity&) const = default;

 private:
  Rep v_{};
};

struct BytesTag {};
struct FlopsTag {};
struct BandwidthTag {};
struct FlopRateTag {};
struct PowerTag {};
struct EnergyTag {};
struct MoneyTag {};
struct MoneyRateTag {};

/// Data size in bytes (exact integer).
using Bytes = Quantity<BytesTag, std::int64_t>;
/// Floating-point operations (a count, FLOP).
using Flops = Quantity<FlopsTag, double>;
/// Data rate in bytes per second, one direction.
using Bandwidth = Quantity<BandwidthTag, double>;
/// Compute rate in FLOP per second.
using FlopRate = Quantity<FlopRateTag, double>;
/// Electrical power in watts.
using Power = Quantity<PowerTag, double>;
/// Energy in joules.
using Energy = Quantity<EnergyTag, double>;
/// Money in US dollars.
using Money = Quantity<MoneyTag, double>;
/// Money per time, stored in US dollars per second; written "$2.10/h" in YAML.
using MoneyRate = Quantity<MoneyRateTag, double>;

// ---- Named constructors (the only way to build a quantity from a scaled number) ----
constexpr Bytes bytes(std::int64_t n) { return Bytes{n}; }
constexpr Bytes kibibytes(std::int64_t n) { return Bytes{n * scale::kKibi}; }
constexpr Bytes mebibytes(std::int64_t n) { return Bytes{n * scale::kMebi}; }
constexpr Bytes gibibytes(std::int64_t n) { return Bytes{n * scale::kGibi}; }
constexpr Bandwidth bytes_per_second(double v) { return Bandwidth{v}; }
constexpr Bandwidth gigabytes_per_second(double v) { return Bandwidth{v * scale::kGiga}; }
constexpr Bandwidth terabytes_per_second(double v) { return Bandwidth{v * scale::kTera}; }
constexpr Bandwidth gigabits_per_second(double v) {
  return Bandwidth{v * scale::kGiga / scale::kBitsPerByte};
}
constexpr Flops flops(double v) { return Flops{v}; }
constexpr FlopRate flop_per_second(double v) { return FlopRate{v}; }
constexpr FlopRate teraflop_per_second(double v) { return FlopRate{v * scale::kTera}; }
constexpr FlopRate petaflop_per_second(double v) { return FlopRate{v * scale::kPeta}; }
constexpr Power watts(double v) { return Power{v}; }
constexpr Energy joules(double v) { return Energy{v}; }
constexpr Money usd(double v) { return Money{v}; }
constexpr MoneyRate usd_per_hour(double v) { return MoneyRate{v / scale::kSecondsPerHour}; }
constexpr Duration picoseconds(std::int64_t n) { return Duration{n}; }
constexpr Duration nanoseconds(std::int64_t n) { return Duration{n * 1000}; }
constexpr Duration microseconds(std::int64_t n) { return Duration{n * 1000 * 1000}; }
constexpr Duration milliseconds(std::int64_t n) { return Duration{n * 1000 * 1000 * 1000}; }

// ---- Unit-named accessors for output boundaries ----
constexpr double in_bytes(Bytes b) { return static_cast<double>(b.base()); }
constexpr double in_gigabytes(Bytes b) { return static_cast<double>(b.base()) / scale::kGiga; }
constexpr double in_gibibytes(Bytes b) {
  return static_cast<double>(b.base()) / static_cast<double>(scale::kGibi);
}
constexpr double in_gigabytes_per_second(Bandwidth b) { return b.base() / scale::kGiga; }
constexpr double in_terabytes_per_second(Bandwidth b) { return b.base() / scale::kTera; }
constexpr double in_teraflop_per_second(FlopRate r) { return r.base() / scale::kTera; }
constexpr double in_petaflop_per_second(FlopRate r) { return r.base() / scale::kPeta; }
constexpr double in_watts(Power p) { return p.base(); }
constexpr double in_kilowatts(Power p) { return p.base() / scale::kKilo; }
constexpr double in_joules(Energy e) { return e.base(); }
constexpr double in_usd(Money m) { return m.base(); }
constexpr double in_usd_per_hour(MoneyRate r) { return r.base() * scale::kSecondsPerHour; }

// ---- Physics: the only cross-type operators ----
/// Time to move `b` at rate `bw`, rounded up once to whole picoseconds.
inline Duration operator/(Bytes b, Bandwidth bw) {
  MOESIM_ASSERT(bw.base() > 0.0, "bandwidth must be positive");
  return detail::ceil_picoseconds(static_cast<double>(b.base()) * scale::kPicosecondsPerSecond /
                                  bw.base());
}
/// Time to execute `f` at rate `r`, rounded up once to whole picoseconds.
inline Duration operator/(Flops f, FlopRate r) {
  MOESIM_ASSERT(r.base() > 0.0, "FLOP rate must be positive");
  return detail::ceil_picoseconds(f.base() * scale::kPicosecondsPerSecond / r.base());
}
/// Energy drawn at power `p` over `d`.
inline Energy operator*(Power p, Duration d) { return Energy{p.base() * to_seconds(d)}; }
/// Cost of renting at rate `r` for `d`.
inline Money operator*(MoneyRate r, Duration d) { return Money{r.base() * to_seconds(d)}; }
/// Bytes moved in `d` at `bw` (fractional; used by the fluid network model).
inline double bytes_moved(Bandwidth bw, Duration d) { return bw.base() * to_seconds(d); }

}  // namespace moesim
