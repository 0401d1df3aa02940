// Tests of read_input_file (sim/core/input_file.hpp): what it reads and what it refuses.

#include "sim/core/input_file.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "test_util.hpp"

namespace moesim {
namespace {

using ::moesim::test::config_error;
using ::moesim::test::TempFile;

TEST_CASE("a regular file within the limit is read whole") {
  const TempFile f("moesim_input_file_ok.txt", "hello\n");
  CHECK(read_input_file(f.path, "text file", bytes(6)) == "hello\n");
}

TEST_CASE("a device, a directory, a missing file or a file over the limit is a ConfigError") {
  // /dev/zero never ends: it was read until std::bad_alloc.
  const ConfigError zero =
      config_error([] { read_input_file("/dev/zero", "YAML file", kMaxYamlFileBytes); });
  CHECK(zero.where().file == "/dev/zero");
  CHECK(zero.found().find("character device") != std::string::npos);
  CHECK(zero.expected() == "a readable YAML file (a regular file or a pipe)");
  const std::string tmp = std::filesystem::temp_directory_path().string();
  CHECK(config_error([&] { read_input_file(tmp, "YAML file", kMaxYamlFileBytes); }).found() ==
        "a directory");
  CHECK(config_error([] {
          read_input_file("/nonexistent/moesim.yaml", "YAML file", kMaxYamlFileBytes, "trace");
        }).key_path() == "trace");
  // 7 bytes against a limit of 6.
  const TempFile big("moesim_input_file_big.txt", "hello!\n");
  const ConfigError e = config_error([&] { read_input_file(big.path, "text file", bytes(6)); });
  CHECK(e.found() == "a file of 7 bytes");
  CHECK(e.expected() == "a text file of at most 6 bytes");
}

}  // namespace
}  // namespace moesim
