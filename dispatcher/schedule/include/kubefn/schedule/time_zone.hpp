// A time zone read from a TZif file (RFC 8536, version 2 or later): the UTC offset and
// abbreviation at an instant, and the instants a local (wall-clock) time stands for, with the
// gap a clock skips when it springs forward and the overlap it repeats when it falls back.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/schedule/posix_tz.hpp"
#include "kubefn/schedule/result.hpp"
#include "kubefn/schedule/zone_info.hpp"

namespace kubefn::schedule {

// What a local time is in a zone. The offsets before and after a transition are in `earlier`
// and `later` (both the same one when the time is unique).
struct LocalInfo {
  enum class Kind {
    kUnique,   // one instant: first == second
    kGap,      // never shown on the clock (spring forward): first == second == the transition,
               // the first instant after the gap
    kOverlap,  // shown twice (fall back): first < second
  };
  Kind kind = Kind::kUnique;
  Instant first;
  Instant second;
  ZoneInfo earlier;
  ZoneInfo later;
};

class TimeZone {
 public:
  // UTC: offset 0 at every instant, abbreviation "UTC".
  static TimeZone utc();
  // Reads the bytes of a TZif file. `name` is only kept, for messages. Refused: version 1 files
  // (no 64-bit data), files with leap-second records (the "right/" zones), and any size, index,
  // order or footer that does not add up.
  static Result<TimeZone> from_tzif(std::string name, std::string_view data);
  // A zone that follows one POSIX TZ rule at all times ("EST5EDT,M3.2.0,M11.1.0").
  static Result<TimeZone> from_posix(std::string name, std::string_view tz);

  const std::string& name() const { return name_; }

  // The offset in force at `t`, its abbreviation and the interval it holds over.
  ZoneInfo info(Instant t) const;
  // The wall-clock time at `t`.
  LocalTime to_local(Instant t) const { return LocalTime{(t + info(t).offset).time_since_epoch()}; }
  // The instants the wall-clock time `t` stands for.
  LocalInfo resolve(LocalTime t) const;

 private:
  struct Type {
    std::chrono::seconds offset{0};
    bool is_dst = false;
    std::string abbreviation;
  };
  TimeZone() = default;
  ZoneInfo type_info(std::size_t type, Instant begin, Instant end) const;
  void compute_offset_range();

  std::string name_;
  std::vector<Instant> transitions_;            // ascending
  std::vector<std::uint8_t> transition_types_;  // the type in force from transitions_[i] on
  std::vector<Type> types_;                     // types_[0] is in force before the first transition
  std::optional<PosixTimeZone> footer_;         // in force after the last transition
  std::chrono::seconds min_offset_{0};          // over every type and the footer: the window of
  std::chrono::seconds max_offset_{0};          // instants a local time can stand for
};

}  // namespace kubefn::schedule
