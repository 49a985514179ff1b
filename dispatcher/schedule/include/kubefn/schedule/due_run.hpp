// Which run of a schedule is due now: the Kubernetes CronJob controller's decision
// (getMostRecentScheduleTime and the starting deadline), as a pure function of the times.
#pragma once

#include <cstdint>
#include <optional>

#include "kubefn/schedule/schedule.hpp"
#include "kubefn/schedule/zone_info.hpp"

namespace kubefn::schedule {

// Skipped runs are counted up to this many (the CronJob controller warns "too many missed start
// times" past 100): counting costs one next() each.
inline constexpr std::int64_t kMaxCountedSkips = 100;

struct DueQuery {
  // The last scheduled time recorded (status.lastScheduleTime), or the trigger's creation time
  // when it never ran. Only scheduled times after it are considered.
  Instant since;
  Instant now;
  // How late a run may start (spec.startingDeadlineSeconds); none: any lateness. Negative is 0.
  std::optional<std::int64_t> starting_deadline_seconds = std::nullopt;
};

struct DueRun {
  // Start the run scheduled for this time now: the most recent scheduled time in (since, now].
  // Only ever one, however many were missed: the earlier ones are `skipped`, not run late.
  std::optional<Instant> run;
  // The most recent scheduled time was more than the starting deadline ago: nothing runs. As
  // CronJob, record nothing (lastScheduleTime stays); the same time comes back here until a
  // later one is due, so warn (Warning event MissSchedule) once per missed time.
  std::optional<Instant> missed;
  // Scheduled times in (since, run or missed) that will never run: at most kMaxCountedSkips,
  // `skipped_capped` when there were more.
  std::int64_t skipped = 0;
  bool skipped_capped = false;
  // `since` is after `now` (a clock went backwards): nothing up to `since` runs again; the
  // next run is the first after `since`.
  bool since_in_future = false;
  // When to look again: the next scheduled time after now (and after `since`). None past 9999.
  std::optional<Instant> next;
};

DueRun due_run(const Schedule& schedule, const DueQuery& query);

}  // namespace kubefn::schedule
