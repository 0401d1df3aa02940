// Tests of the CSV reader (sim/core/csv.hpp): comments, quoting, located errors.

#include "sim/core/csv.hpp"

#include <doctest/doctest.h>

#include <string>

namespace moesim {
namespace {

TEST_CASE("a CSV table keeps its comments, header, cells and line numbers") {
  const CsvTable t =
      parse_csv("# provenance: test\n\na, b ,c\n1,\"x, y\",3\n\n4,5,\"say \"\"hi\"\"\"\n", "t.csv");
  REQUIRE(t.comments.size() == 1);
  CHECK(t.comments[0] == "provenance: test");
  CHECK(t.header == std::vector<std::string>{"a", "b", "c"});
  CHECK(t.header_line == 3);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0][1] == "x, y");
  CHECK(t.rows[1][2] == "say \"hi\"");
  CHECK(t.lines == std::vector<int>{4, 6});
  CHECK(t.column("c") == 2);
  CHECK(t.column("d") == -1);
  CHECK(t.where(1, 2).line == 6);
  CHECK(t.where(1, 2).column == 3);
}

TEST_CASE("a row with the wrong number of fields is an error at its line") {
  try {
    (void)parse_csv("a,b\n1,2\n3\n", "bad.csv");
    FAIL("expected a ConfigError");
  } catch (const ConfigError& e) {
    CHECK(e.where().file == "bad.csv");
    CHECK(e.where().line == 3);
    CHECK(std::string(e.what()).find("2 fields") != std::string::npos);
  }
  CHECK_THROWS_AS((void)parse_csv("", "empty.csv"), ConfigError);
  CHECK_THROWS_AS((void)parse_csv("a,b\n\"open,1\n", "quote.csv"), ConfigError);
  CHECK_THROWS_AS((void)read_csv("/nonexistent/file.csv"), ConfigError);
}

TEST_CASE("a UTF-8 byte-order mark before the header is skipped") {
  const CsvTable t = parse_csv(
      "\xEF\xBB\xBF"
      "a,b\n1,2\n",
      "bom.csv");
  CHECK(t.header == std::vector<std::string>{"a", "b"});
  CHECK(t.column("a") == 0);
  CHECK(strip_utf8_bom("abc") == "abc");
  CHECK(strip_utf8_bom("\xEF\xBB") == "\xEF\xBB");  // a truncated mark is text
}

}  // namespace
}  // namespace moesim
