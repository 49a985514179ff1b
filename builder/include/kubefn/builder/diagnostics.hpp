#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kubefn::builder {

// Turns a compiler's (or linker's) output into a short message: the first `max_errors`
// "file:line:col: error: ..." lines (linker errors count too), with each of `strip_prefixes`
// removed from paths so they read relative to the source, and a count of the rest. Never longer
// than `max_bytes`. Falls back to the first lines of the output when no error line is found.
std::string summarize_compiler_errors(std::string_view output,
                                      const std::vector<std::string>& strip_prefixes = {},
                                      std::size_t max_errors = 5, std::size_t max_bytes = 1024);

// Cuts `text` to at most `max_bytes` bytes (ending in "..." when cut, never inside a UTF-8
// sequence).
std::string truncate_utf8(std::string text, std::size_t max_bytes);

}  // namespace kubefn::builder
