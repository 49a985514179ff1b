// The POSIX TZ rule a TZif file ends with ("CET-1CEST,M3.5.0,M10.5.0/3"): the offsets of a zone
// for every instant after its last listed transition, computed from the rule year by year.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "kubefn/schedule/result.hpp"
#include "kubefn/schedule/zone_info.hpp"

namespace kubefn::schedule {

class PosixTimeZone {
 public:
  // Reads `std offset [dst [offset] ,start[/time],end[/time]]` with the TZif version 3
  // extensions (rule times from -167 to 167 hours, DST all year). Names are 3 or more letters
  // or `<...>` quoted; offsets are POSIX's (west of Greenwich positive: "EST5" is UTC-5).
  // A DST name without its rule is refused (the default rule is implementation-defined).
  // An empty string is refused too: a TZif footer that is empty has no rule to read.
  static Result<PosixTimeZone> parse(std::string_view tz);

  // The offset in force at `t` and the interval it holds over. Computed for years 1-9999;
  // instants outside take the offset in force at that range's ends.
  ZoneInfo info(Instant t) const;

  bool has_dst() const { return start_.has_value(); }
  std::chrono::seconds std_offset() const { return std_offset_; }
  std::chrono::seconds dst_offset() const { return dst_offset_; }

 private:
  // A day of the year, as POSIX writes it, and the local time of day the change happens at.
  struct Rule {
    enum class Kind { kJulianNoLeap, kZeroBasedDay, kMonthWeekDay };
    Kind kind = Kind::kMonthWeekDay;
    int day = 0;    // Jn: 1-365; n: 0-365; Mm.w.d: d, 0-6 (Sunday = 0)
    int month = 0;  // Mm.w.d: 1-12
    int week = 0;   // Mm.w.d: 1-5 (5 = last)
    std::chrono::seconds time{7200};
  };
  // The instant `rule` falls on in `year`, the local time of day read at `offset`.
  static Instant at(const Rule& rule, int year, std::chrono::seconds offset);

  std::string std_name_;
  std::string dst_name_;
  std::chrono::seconds std_offset_{0};  // as ZoneInfo::offset: east positive
  std::chrono::seconds dst_offset_{0};
  std::optional<Rule> start_;  // DST begins (local standard time)
  std::optional<Rule> end_;    // DST ends (local daylight time)
};

}  // namespace kubefn::schedule
