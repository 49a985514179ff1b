#include "kubefn/schedule/due_run.hpp"

#include <algorithm>

namespace kubefn::schedule {
namespace {

using std::chrono::seconds;

// The most recent scheduled time in (since, now] of a calendar schedule, with the times before
// it counted. next() is monotonic, so the latest time is found by bisecting on its argument:
// about log2(now - since) calls, however many runs were missed.
std::optional<Instant> latest_calendar(const Schedule& s, Instant since, Instant now,
                                       std::int64_t& skipped, bool& capped) {
  const auto first = s.next(since);
  if (!first || *first > now) return std::nullopt;
  const auto second = s.next(*first);
  if (!second || *second > now) return first;

  Instant lo = *first;  // next(lo) <= now
  Instant hi = now;     // next(hi) > now
  while (hi - lo > seconds{1}) {
    const Instant mid = lo + (hi - lo) / 2;
    const auto n = s.next(mid);
    if (n && *n <= now) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const auto latest = s.next(lo);
  for (auto t = first; t && *t < *latest; t = s.next(*t)) {
    if (skipped == kMaxCountedSkips) {
      capped = true;
      break;
    }
    ++skipped;
  }
  return latest;
}

}  // namespace

DueRun due_run(const Schedule& schedule, const DueQuery& q) {
  DueRun out;
  if (q.since > q.now) {
    out.since_in_future = true;
    out.next = schedule.next(q.since);
    return out;
  }
  std::optional<Instant> latest;
  if (const auto every = schedule.interval()) {
    // Runs of `@every` are since + k * interval.
    const std::int64_t k = (q.now - q.since) / *every;
    if (k >= 1) {
      latest = q.since + k * *every;
      out.skipped = std::min<std::int64_t>(k - 1, kMaxCountedSkips);
      out.skipped_capped = k - 1 > kMaxCountedSkips;
    }
  } else {
    latest = latest_calendar(schedule, q.since, q.now, out.skipped, out.skipped_capped);
  }
  if (!latest) {
    out.next = schedule.next(q.since);
    return out;
  }
  const bool too_late =
      q.starting_deadline_seconds &&
      q.now - *latest > seconds{std::max<std::int64_t>(0, *q.starting_deadline_seconds)};
  (too_late ? out.missed : out.run) = latest;
  out.next = schedule.next(*latest);
  return out;
}

}  // namespace kubefn::schedule
