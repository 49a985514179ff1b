#pragma once

// Reading a replica's log file: its port announcement and its last lines (private to the
// module).

#include <cstdint>
#include <string>
#include <string_view>

namespace kubefn::platform::local::detail {

// The port of a runtime's `"msg":"listening"` JSON log line; 0 for any other line.
std::uint16_t listening_port(std::string_view line);

// At most the last `max_lines` lines (and `max_bytes` bytes) written to `path` at or after
// byte `offset`, without the final newline; empty when there are none.
std::string log_tail(const std::string& path, std::uintmax_t offset, int max_lines = 20,
                     std::size_t max_bytes = 2048);

}  // namespace kubefn::platform::local::detail
