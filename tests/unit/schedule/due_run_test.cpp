#include "kubefn/schedule/due_run.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>

#include "schedule_testing.hpp"

namespace kubefn::schedule {
namespace {

using testing::iso;
using testing::parsed;
using testing::utc;

struct Case {
  std::string name;
  std::string spec;
  std::string since;
  std::string now;
  std::optional<std::int64_t> deadline;
  std::string run;
  std::string missed;
  std::int64_t skipped;
  bool capped;
  bool since_in_future;
  std::string next;
  std::string zone = "";
};

TEST(DueRun, AtMostOneRunIsDueAndTheRestAreCounted) {
  const std::optional<std::int64_t> none;
  const Case cases[] = {
      // A clock that went backwards: what was recorded as run is not run again.
      {"since in the future", "0 * * * *", "2026-05-01T12:00:00Z", "2026-05-01T11:10:00Z", none,
       "none", "none", 0, false, true, "2026-05-01T13:00:00Z"},
      {"since a year in the future", "0 * * * *", "2027-05-01T12:00:00Z", "2026-05-01T11:10:00Z",
       600, "none", "none", 0, false, true, "2027-05-01T13:00:00Z"},
      {"every, since in the future", "@every 90s", "2026-05-01T10:00:00Z", "2026-05-01T09:00:00Z",
       none, "none", "none", 0, false, true, "2026-05-01T10:01:30Z"},
      // Never ran: `since` is the creation time.
      {"never ran, not yet due", "0 * * * *", "2026-05-01T10:30:00Z", "2026-05-01T10:59:59Z", none,
       "none", "none", 0, false, false, "2026-05-01T11:00:00Z"},
      {"never ran, due exactly now", "0 * * * *", "2026-05-01T10:30:00Z", "2026-05-01T11:00:00Z",
       none, "2026-05-01T11:00:00Z", "none", 0, false, false, "2026-05-01T12:00:00Z"},
      {"since is the scheduled time: already run", "0 * * * *", "2026-05-01T11:00:00Z",
       "2026-05-01T11:00:00Z", none, "none", "none", 0, false, false, "2026-05-01T12:00:00Z"},
      {"one missed", "0 * * * *", "2026-05-01T11:00:00Z", "2026-05-01T12:20:00Z", none,
       "2026-05-01T12:00:00Z", "none", 0, false, false, "2026-05-01T13:00:00Z"},
      {"many missed: only the latest runs", "0 * * * *", "2026-05-01T11:00:00Z",
       "2026-05-01T16:05:00Z", none, "2026-05-01T16:00:00Z", "none", 4, false, false,
       "2026-05-01T17:00:00Z"},
      // startingDeadlineSeconds: a run more than that late is missed, not started.
      {"later than the deadline", "0 * * * *", "2026-05-01T11:00:00Z", "2026-05-01T12:20:00Z", 600,
       "none", "2026-05-01T12:00:00Z", 0, false, false, "2026-05-01T13:00:00Z"},
      {"many missed, the latest later than the deadline", "0 * * * *", "2026-05-01T11:00:00Z",
       "2026-05-01T16:25:00Z", 600, "none", "2026-05-01T16:00:00Z", 4, false, false,
       "2026-05-01T17:00:00Z"},
      {"within the deadline", "0 * * * *", "2026-05-01T11:00:00Z", "2026-05-01T12:20:00Z", 1800,
       "2026-05-01T12:00:00Z", "none", 0, false, false, "2026-05-01T13:00:00Z"},
      {"exactly the deadline late", "0 * * * *", "2026-05-01T11:00:00Z", "2026-05-01T12:10:00Z",
       600, "2026-05-01T12:00:00Z", "none", 0, false, false, "2026-05-01T13:00:00Z"},
      {"deadline 0, on time", "0 * * * *", "2026-05-01T11:00:00Z", "2026-05-01T12:00:00Z", 0,
       "2026-05-01T12:00:00Z", "none", 0, false, false, "2026-05-01T13:00:00Z"},
      {"deadline 0, a second late", "0 * * * *", "2026-05-01T11:00:00Z", "2026-05-01T12:00:01Z", 0,
       "none", "2026-05-01T12:00:00Z", 0, false, false, "2026-05-01T13:00:00Z"},
      {"negative deadline is 0", "0 * * * *", "2026-05-01T11:00:00Z", "2026-05-01T12:00:01Z", -5,
       "none", "2026-05-01T12:00:00Z", 0, false, false, "2026-05-01T13:00:00Z"},
      // Skips are counted up to kMaxCountedSkips.
      {"100 skipped", "* * * * *", "2026-05-01T10:00:00Z", "2026-05-01T11:41:00Z", none,
       "2026-05-01T11:41:00Z", "none", 100, false, false, "2026-05-01T11:42:00Z"},
      {"101 skipped", "* * * * *", "2026-05-01T10:00:00Z", "2026-05-01T11:42:00Z", none,
       "2026-05-01T11:42:00Z", "none", 100, true, false, "2026-05-01T11:43:00Z"},
      {"years of minutes missed", "* * * * *", "2020-01-01T00:00:00Z", "2026-05-01T10:30:30Z", none,
       "2026-05-01T10:30:00Z", "none", 100, true, false, "2026-05-01T10:31:00Z"},
      {"decades of years missed", "@yearly", "1990-01-01T00:00:00Z", "2026-05-01T10:30:30Z", none,
       "2026-01-01T00:00:00Z", "none", 35, false, false, "2027-01-01T00:00:00Z"},
      // Uneven gaps between runs (the CronJob controller's own example).
      {"irregular schedule over a weekend", "30 6-16/4 * * 1-5", "2026-05-01T14:30:00Z",
       "2026-05-04T12:00:00Z", none, "2026-05-04T10:30:00Z", "none", 1, false, false,
       "2026-05-04T14:30:00Z"},
      // @every counts from `since`.
      {"every, not yet due", "@every 90s", "2026-05-01T10:00:00Z", "2026-05-01T10:01:00Z", none,
       "none", "none", 0, false, false, "2026-05-01T10:01:30Z"},
      {"every, three due", "@every 90s", "2026-05-01T10:00:00Z", "2026-05-01T10:05:00Z", none,
       "2026-05-01T10:04:30Z", "none", 2, false, false, "2026-05-01T10:06:00Z"},
      {"every, exactly on a run", "@every 90s", "2026-05-01T10:00:00Z", "2026-05-01T10:04:30Z",
       none, "2026-05-01T10:04:30Z", "none", 2, false, false, "2026-05-01T10:06:00Z"},
      {"every, past the deadline", "@every 90s", "2026-05-01T10:00:00Z", "2026-05-01T10:05:00Z", 10,
       "none", "2026-05-01T10:04:30Z", 2, false, false, "2026-05-01T10:06:00Z"},
      {"every, capped", "@every 1s", "2026-05-01T10:00:00Z", "2026-05-01T11:00:00Z", none,
       "2026-05-01T11:00:00Z", "none", 100, true, false, "2026-05-01T11:00:01Z"},
      // Wall-clock times in Berlin's 2026 gap and overlap.
      {"gap: the 02:30 run is due at 03:00 CEST", "30 2 * * *", "2026-03-28T01:30:00Z",
       "2026-03-29T01:00:05Z", none, "2026-03-29T01:00:00Z", "none", 0, false, false,
       "2026-03-30T00:30:00Z", "Europe/Berlin"},
      {"overlap: the second 02:30 is not due", "30 2 * * *", "2026-10-25T00:30:00Z",
       "2026-10-25T01:45:00Z", none, "none", "none", 0, false, false, "2026-10-26T01:30:00Z",
       "Europe/Berlin"},
  };
  TimeZoneDatabase zones;
  for (const auto& c : cases) {
    const Schedule s = parsed(c.spec, c.zone, zones);
    const DueRun d = due_run(
        s, DueQuery{
               .since = utc(c.since), .now = utc(c.now), .starting_deadline_seconds = c.deadline});
    EXPECT_EQ(iso(d.run), c.run) << c.name;
    EXPECT_EQ(iso(d.missed), c.missed) << c.name;
    EXPECT_EQ(d.skipped, c.skipped) << c.name;
    EXPECT_EQ(d.skipped_capped, c.capped) << c.name;
    EXPECT_EQ(d.since_in_future, c.since_in_future) << c.name;
    EXPECT_EQ(iso(d.next), c.next) << c.name;
  }
}

// Run after run, as a controller would: record each due run as `since`, wake at `next`.
TEST(DueRun, FollowingNextVisitsEveryRunOnce) {
  TimeZoneDatabase zones;
  const Schedule s = parsed("*/20 1-3 * * *", "Europe/Berlin", zones);
  Instant since = utc("2026-10-24T20:00:00Z");
  std::string seen;
  for (int i = 0; i < 10; ++i) {
    const DueRun wait = due_run(s, DueQuery{.since = since, .now = since});
    ASSERT_TRUE(wait.next.has_value());
    const DueRun d = due_run(s, DueQuery{.since = since, .now = *wait.next});
    ASSERT_EQ(d.run, wait.next);
    EXPECT_EQ(d.skipped, 0);
    seen += iso(d.run).substr(11, 5) + " ";
    since = *d.run;
  }
  // 01:xx CEST, 02:xx CEST, 02:xx CET again (periodic), 03:xx CET.
  EXPECT_EQ(seen, "23:00 23:20 23:40 00:00 00:20 00:40 01:00 01:20 01:40 02:00 ");
}

}  // namespace
}  // namespace kubefn::schedule
