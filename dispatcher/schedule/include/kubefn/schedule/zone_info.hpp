// The time types of this module and what a time zone says about one instant.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kubefn::schedule {

// An instant: seconds since the Unix epoch, UTC, leap seconds not counted (as Kubernetes'
// metav1.Time and Go's time.Time).
using Instant = std::chrono::sys_seconds;
// A civil (wall-clock) time in some zone, as seconds since 1970-01-01 00:00 of that clock.
using LocalTime = std::chrono::local_seconds;

// The ends of every zone's timeline: the begin of the first offset and the end of the last.
// Far enough out to hold any TZif transition, near enough that adding an offset cannot overflow.
inline constexpr Instant kMinInstant{std::chrono::seconds{-(std::int64_t{1} << 59)}};
inline constexpr Instant kMaxInstant{std::chrono::seconds{std::int64_t{1} << 59}};

// The offset in force over [begin, end), as std::chrono::sys_info describes it.
struct ZoneInfo {
  Instant begin = kMinInstant;
  Instant end = kMaxInstant;
  std::chrono::seconds offset{0};  // local = instant + offset (east of Greenwich is positive)
  bool is_dst = false;
  std::string abbreviation;  // "CEST", "EST", "+0530"

  bool operator==(const ZoneInfo&) const = default;
};

}  // namespace kubefn::schedule
