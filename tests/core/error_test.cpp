// Tests of ConfigError's message (sim/core/error.hpp): its shape, and long echoes clipped.

#include "sim/core/error.hpp"

#include <doctest/doctest.h>

#include <string>

namespace moesim {
namespace {

TEST_CASE("a ConfigError message names the place, the key, what was expected and found") {
  const ConfigError e({"f.yaml", 3, 7}, "a.b", "a number", "\"x\"", "y");
  CHECK(std::string(e.what()) ==
        "f.yaml:3:7: a.b: expected a number, found \"x\" (did you mean 'y'?)");
}

TEST_CASE("an echoed value over the limit is clipped to its start and its size") {
  // kEchoLimitBytes (160) bytes are shown whole; one more is clipped to kEchoKeptBytes (80).
  const std::string whole(kEchoLimitBytes, 'a');
  CHECK(clip_echo(whole) == whole);
  const std::string longer(kEchoLimitBytes + 1, 'a');
  CHECK(clip_echo(longer) == std::string(kEchoKeptBytes, 'a') + "... (161 bytes)");
  // A megabyte found value and key path stay short in what(); the accessors keep them whole.
  const std::string huge(1'000'000, 'z');
  const ConfigError e({"t.csv", 2, 1}, huge, "a token count", huge);
  CHECK(std::string(e.what()).size() < 300);
  CHECK(std::string(e.what()).find("... (1000000 bytes)") != std::string::npos);
  CHECK(e.found() == huge);
  CHECK(e.key_path() == huge);
}

TEST_CASE("clipping never splits a UTF-8 character") {
  // 79 ASCII bytes, then 'é' (C3 A9) across bytes 79-80: the cut backs up to 79 bytes.
  const std::string text = std::string(79, 'a') + "\xC3\xA9" + std::string(100, 'b');
  CHECK(clip_echo(text) == std::string(79, 'a') + "... (181 bytes)");
}

}  // namespace
}  // namespace moesim
