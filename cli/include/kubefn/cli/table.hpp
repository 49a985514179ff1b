// Plain-text tables and ages, kubectl style.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kubefn::cli {

// Columns left-aligned, separated by three spaces, no trailing blanks. Missing cells are blank.
std::string format_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

// "45s", "3m", "2h5m", "4d" like kubectl's AGE column; negative is "0s".
std::string format_age(std::chrono::seconds age);

// Seconds since the epoch of an RFC 3339 UTC time ("2024-01-02T03:04:05Z"), or nullopt.
std::optional<std::int64_t> parse_rfc3339(const std::string& text);

// format_age(now - time) for an RFC 3339 time, "<unknown>" when it does not parse.
std::string age_since(const std::string& rfc3339, std::chrono::system_clock::time_point now);

}  // namespace kubefn::cli
