// Helpers the schedule tests share: instants written as ISO text, parsing that fails the test,
// and TZif files built byte by byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubefn/schedule/schedule.hpp"
#include "kubefn/schedule/time_zone_database.hpp"
#include "kubefn/schedule/zone_info.hpp"

namespace kubefn::schedule::testing {

// "2026-03-29T01:00:00Z" or "2026-03-29T01:00Z".
Instant utc(std::string_view iso);
// "2026-03-29T02:30" or "2026-03-29T02:30:00": a wall-clock time.
LocalTime local(std::string_view iso);
// "2026-03-29T01:00:00Z"; "none" for no instant.
std::string iso(Instant t);
std::string iso(std::optional<Instant> t);

// The schedule, or a test failure and a UTC "@every 1h".
Schedule parsed(std::string_view spec, std::string_view zone, TimeZoneDatabase& zones);
// The parse error, or a test failure and "".
std::string parse_error(std::string_view spec, std::string_view zone, TimeZoneDatabase& zones);
// The next `n` runs after `after`, as ISO text.
std::vector<std::string> runs(const Schedule& s, std::string_view after, int n);

struct TzifType {
  std::int32_t offset;
  bool is_dst;
  std::string abbreviation;
};
// A TZif file: a version 1 block with no data (as zic -b slim writes), then the version 2 data
// and the footer. `leap_seconds` adds that many leap records.
std::string tzif_file(const std::vector<std::pair<std::int64_t, std::uint8_t>>& transitions,
                      const std::vector<TzifType>& types, std::string_view footer,
                      char version = '2', int leap_seconds = 0);

}  // namespace kubefn::schedule::testing
