// The five fields of a cron expression (minute hour day-of-month month day-of-week) as sets of
// values, and the wall-clock times they match. Time zones are not its business: Schedule maps
// the matching wall-clock times to instants.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "kubefn/schedule/result.hpp"
#include "kubefn/schedule/zone_info.hpp"

namespace kubefn::schedule {

struct CronFields {
  std::uint64_t minutes = 0;        // bit m: minute m, 0-59
  std::uint64_t hours = 0;          // bit h: hour h, 0-23
  std::uint64_t days_of_month = 0;  // bit d: day d, 1-31
  std::uint64_t months = 0;         // bit m: month m, 1-12
  std::uint64_t days_of_week = 0;   // bit d: weekday d, 0-6, Sunday = 0 (7 is read as 0)
  // A day field that is `*` or `?` (robfig/cron's rule: `*/2` restricts). When both day fields
  // restrict, a day matches if either matches (Vixie cron's rule); otherwise both must.
  bool any_day_of_month = false;
  bool any_day_of_week = false;
  // Neither the minute nor the hour field starts with `*` (Vixie cron's rule): the job names
  // wall-clock times, such as `30 2 * * *`, rather than a period within the day, such as
  // `*/15 * * * *` or `0 * * * *`. It decides what a DST transition does (see Schedule).
  bool wall_clock = false;

  // Reads exactly five whitespace-separated fields. Each is a list of `*`, `?` (day fields
  // only), `a`, `a-b`, `*/n`, `a-b/n` or `a/n` (= `a-max/n`); months may be JAN-DEC and
  // weekdays SUN-SAT, any case. Errors name the field and what to fix:
  // `minute field "61": 61 is out of range 0-59`. A schedule no day can satisfy
  // (`0 0 30 2 *`) is an error too.
  static Result<CronFields> parse(std::string_view fields);

  bool matches_day(int year, unsigned month, unsigned day) const;
  // The earliest matching wall-clock time at or after `from` (whole minutes), or none before
  // the year 10000.
  std::optional<LocalTime> next_match(LocalTime from) const;

  bool operator==(const CronFields&) const = default;
};

}  // namespace kubefn::schedule
