// A schedule trigger's `schedule` in its time zone, and the instants it fires at.
//
// Syntax: what Kubernetes CronJobs accept (robfig/cron's standard parser), see CronFields and
// README.md: five fields; @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly;
// `@every <Go duration>` (whole seconds, at least 1s); an optional `CRON_TZ=<zone> ` or
// `TZ=<zone> ` prefix (the trigger's timeZone field is the usual way; not both).
//
// Daylight-saving time, for a schedule in a zone that observes it (Vixie cron's rules):
// - a wall-clock job (minute and hour fields not starting with `*`, e.g. `30 2 * * *`, @daily)
//   whose time falls in a spring-forward gap runs once, at the first instant after the gap
//   (02:30 on the day Berlin jumps from 02:00 to 03:00 runs at 03:00 CEST); one whose time
//   repeats in a fall-back overlap runs once, at the first occurrence;
// - any other job (`*/15 * * * *`, `0 * * * *`, @hourly) keeps its rhythm in elapsed time: the
//   wall-clock times the gap skips do not run, and the repeated hour runs again.
// - `@every` is elapsed time: after + interval, whatever the zone.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "kubefn/schedule/cron_fields.hpp"
#include "kubefn/schedule/result.hpp"
#include "kubefn/schedule/time_zone.hpp"
#include "kubefn/schedule/time_zone_database.hpp"
#include "kubefn/schedule/zone_info.hpp"

namespace kubefn::schedule {

class Schedule {
 public:
  // `time_zone` is the trigger's timeZone ("" = UTC, unless the spec has a CRON_TZ= prefix).
  // Errors say what to fix, e.g. `minute field "61": 61 is out of range 0-59` or
  // `time zone "Mars/Olympus": unknown time zone (no such file in /usr/share/zoneinfo)`.
  static Result<Schedule> parse(std::string_view spec, std::string_view time_zone,
                                TimeZoneDatabase& zones);

  // The first time the schedule fires strictly after `after`. None only when that would be
  // after the year 9999 (the calendar works in years 1-9999).
  std::optional<Instant> next(Instant after) const;

  // The interval of an `@every` schedule; none for the others.
  std::optional<std::chrono::seconds> interval() const;
  // The five fields (a descriptor such as @daily is read as its fields); none for `@every`.
  const CronFields* fields() const { return std::get_if<CronFields>(&rule_); }
  const TimeZone& time_zone() const { return *zone_; }
  // The spec as given, trimmed.
  const std::string& spec() const { return spec_; }

 private:
  Schedule(std::string spec, std::shared_ptr<const TimeZone> zone,
           std::variant<CronFields, std::chrono::seconds> rule);
  std::optional<Instant> next_wall_clock(const CronFields& f, Instant after) const;
  std::optional<Instant> next_periodic(const CronFields& f, Instant after) const;

  std::string spec_;
  std::shared_ptr<const TimeZone> zone_;
  std::variant<CronFields, std::chrono::seconds> rule_;
};

// The shortest `@every` interval accepted.
inline constexpr std::chrono::seconds kMinInterval{1};

}  // namespace kubefn::schedule
