#pragma once
/// \file
/// Reading an input file whole, with the checks that keep a wrong path a clear error: a
/// directory, a device (/dev/zero, a terminal) or a file larger than the reader's limit is a
/// ConfigError before anything is read, never std::bad_alloc or a hang.

#include <cstdint>
#include <filesystem>
#include <string>

#include "sim/core/units.hpp"

namespace moesim {

/// Largest YAML file read: 16 MiB, 400 times the largest file of the catalog (a calibrated
/// stack, 42 kB); a YAML document is also held to 1,000,000 nodes.
inline constexpr Bytes kMaxYamlFileBytes = mebibytes(16);
/// Largest CSV file read (traces, measurements, length and count tables): 256 MiB, about ten
/// million trace rows, 150 times the largest measured table of the catalog (1.6 MB).
inline constexpr Bytes kMaxCsvFileBytes = mebibytes(256);

/// The content of the file at `path`. A regular file must hold at most `max_bytes`; a pipe
/// (e.g. `<(...)` or /dev/stdin) is read up to that limit. No such file, a directory, a device
/// or another special file, a file over the limit or a read failure is a ConfigError at
/// `path` and `key` that says what the file is ("a readable <what>" expected, or "a <what> of
/// at most N MiB" for one too large).
std::string read_input_file(const std::filesystem::path& path, const std::string& what,
                            Bytes max_bytes, const std::string& key = "");

}  // namespace moesim
