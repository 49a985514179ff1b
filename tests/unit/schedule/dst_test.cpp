// What schedules do when the clock springs forward or falls back (see schedule.hpp): the
// instants were checked against Python's zoneinfo. Europe/Berlin 2026: 02:00-03:00 on 03-29
// does not exist (01:00 UTC is 03:00 CEST); 02:00-03:00 on 10-25 occurs twice (00:00-01:00 UTC
// as CEST, 01:00-02:00 UTC as CET).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "kubefn/schedule/schedule.hpp"
#include "schedule_testing.hpp"

namespace kubefn::schedule {
namespace {

using testing::parsed;
using testing::runs;
using Runs = std::vector<std::string>;

class DstTest : public ::testing::Test {
 protected:
  Runs berlin(const std::string& spec, const std::string& after, int n) {
    return runs(parsed(spec, "Europe/Berlin", zones_), after, n);
  }
  TimeZoneDatabase zones_;
};

// A wall-clock time the gap skips runs once, at the first instant after the gap (Vixie cron).
TEST_F(DstTest, WallClockTimeInTheGapRunsWhenTheGapEnds) {
  EXPECT_EQ(berlin("30 2 * * *", "2026-03-28T12:00:00Z", 3),
            (Runs{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"}));
  // Times in the gap and the first time after it are one run, not two.
  EXPECT_EQ(berlin("0,30 2,3 * * *", "2026-03-28T23:00:00Z", 3),
            (Runs{"2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:00:00Z"}));
  // From inside the gap's instant, nothing is run twice.
  EXPECT_EQ(berlin("30 2 * * *", "2026-03-29T01:00:00Z", 1), (Runs{"2026-03-30T00:30:00Z"}));
}

// A wall-clock time the overlap repeats runs once, at its first occurrence.
TEST_F(DstTest, WallClockTimeInTheOverlapRunsOnce) {
  EXPECT_EQ(berlin("30 2 * * *", "2026-10-24T12:00:00Z", 2),
            (Runs{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
  // Asked during the second pass of 02:xx, the next is still tomorrow's.
  EXPECT_EQ(berlin("30 2 * * *", "2026-10-25T01:10:00Z", 1), (Runs{"2026-10-26T01:30:00Z"}));
  EXPECT_EQ(berlin("0,15,30,45 2 * * *", "2026-10-25T00:20:00Z", 3),
            (Runs{"2026-10-25T00:30:00Z", "2026-10-25T00:45:00Z", "2026-10-26T01:00:00Z"}));
  EXPECT_EQ(berlin("0 3 * * *", "2026-10-25T00:00:00Z", 1), (Runs{"2026-10-25T02:00:00Z"}));
}

// Jobs with a `*` minute or hour keep their period in elapsed time: no runs for the skipped
// times, and the repeated hour runs again.
TEST_F(DstTest, PeriodicJobsKeepTheirRhythm) {
  EXPECT_EQ(berlin("*/30 * * * *", "2026-03-29T00:00:00Z", 3),
            (Runs{"2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"}));
  EXPECT_EQ(berlin("*/30 * * * *", "2026-10-24T23:45:00Z", 5),
            (Runs{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z",
                  "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"}));
  EXPECT_EQ(berlin("@hourly", "2026-03-28T23:30:00Z", 3),
            (Runs{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}));
  EXPECT_EQ(berlin("@hourly", "2026-10-24T22:30:00Z", 4),
            (Runs{"2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z",
                  "2026-10-25T02:00:00Z"}));
  // 02:30 does not exist: the hourly :30 job goes from 01:30 CET to 03:30 CEST, an hour apart.
  EXPECT_EQ(berlin("30 * * * *", "2026-03-29T00:00:00Z", 2),
            (Runs{"2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"}));
  // Every minute of the 2 o'clock hour: none on the day it is skipped, twice as many on the
  // day it repeats.
  EXPECT_EQ(berlin("*/20 2 * * *", "2026-03-28T12:00:00Z", 1), (Runs{"2026-03-30T00:00:00Z"}));
  EXPECT_EQ(berlin("*/20 2 * * *", "2026-10-24T12:00:00Z", 7),
            (Runs{"2026-10-25T00:00:00Z", "2026-10-25T00:20:00Z", "2026-10-25T00:40:00Z",
                  "2026-10-25T01:00:00Z", "2026-10-25T01:20:00Z", "2026-10-25T01:40:00Z",
                  "2026-10-26T01:00:00Z"}));
}

TEST_F(DstTest, DailyJobsFollowTheLocalMidnight) {
  EXPECT_EQ(berlin("@daily", "2026-03-28T12:00:00Z", 2),
            (Runs{"2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"}));
  EXPECT_EQ(berlin("@daily", "2026-10-24T12:00:00Z", 2),
            (Runs{"2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"}));
}

TEST_F(DstTest, EveryIsElapsedTime) {
  EXPECT_EQ(berlin("@every 1h", "2026-03-29T00:30:00Z", 2),
            (Runs{"2026-03-29T01:30:00Z", "2026-03-29T02:30:00Z"}));
  EXPECT_EQ(berlin("@every 30m", "2026-10-25T00:45:00Z", 2),
            (Runs{"2026-10-25T01:15:00Z", "2026-10-25T01:45:00Z"}));
}

// America/New_York 2026: 02:00 EST -> 03:00 EDT on 03-08 (07:00 UTC); 02:00 EDT -> 01:00 EST
// on 11-01 (06:00 UTC), so 01:30 is 05:30 and 06:30 UTC.
TEST_F(DstTest, NewYork) {
  const Schedule gap = parsed("30 2 * * *", "America/New_York", zones_);
  EXPECT_EQ(runs(gap, "2026-03-07T12:00:00Z", 3),
            (Runs{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}));
  const Schedule overlap = parsed("30 1 * * *", "America/New_York", zones_);
  EXPECT_EQ(runs(overlap, "2026-10-31T12:00:00Z", 2),
            (Runs{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
  const Schedule quarter = parsed("*/15 * * * *", "America/New_York", zones_);
  EXPECT_EQ(runs(quarter, "2026-11-01T05:40:00Z", 4),
            (Runs{"2026-11-01T05:45:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:15:00Z",
                  "2026-11-01T06:30:00Z"}));
}

TEST_F(DstTest, KolkataHalfHourOffset) {
  const Schedule s = parsed("0 9 * * *", "Asia/Kolkata", zones_);
  EXPECT_EQ(runs(s, "2026-05-17T00:00:00Z", 2),
            (Runs{"2026-05-17T03:30:00Z", "2026-05-18T03:30:00Z"}));
  EXPECT_EQ(runs(parsed("0 * * * *", "Asia/Kolkata", zones_), "2026-05-17T00:00:00Z", 2),
            (Runs{"2026-05-17T00:30:00Z", "2026-05-17T01:30:00Z"}));
}

// +10:30, +11 in summer: the gap (02:00-02:30, 2026-10-04) and overlap (01:30-02:00,
// 2026-04-05) are half an hour.
TEST_F(DstTest, LordHoweHalfHourDaylightSaving) {
  if (!std::filesystem::exists(std::filesystem::path(kSystemZoneDirectory) / "Australia/Lord_Howe"))
    GTEST_SKIP() << "no Australia/Lord_Howe on this machine";
  const auto lh = [this](const std::string& spec) {
    return parsed(spec, "Australia/Lord_Howe", zones_);
  };
  EXPECT_EQ(runs(lh("15 2 * * *"), "2026-10-03T00:00:00Z", 2),
            (Runs{"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}));
  EXPECT_EQ(runs(lh("45 1 * * *"), "2026-04-04T00:00:00Z", 2),
            (Runs{"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}));
  EXPECT_EQ(runs(lh("*/15 * * * *"), "2026-04-04T14:20:00Z", 5),
            (Runs{"2026-04-04T14:30:00Z", "2026-04-04T14:45:00Z", "2026-04-04T15:00:00Z",
                  "2026-04-04T15:15:00Z", "2026-04-04T15:30:00Z"}));
}

// 2040 is past the transitions the files list: the footer rule decides, the same way.
TEST_F(DstTest, YearsPastTheLastListedTransition) {
  EXPECT_EQ(berlin("30 2 * * *", "2040-03-24T12:00:00Z", 2),
            (Runs{"2040-03-25T01:00:00Z", "2040-03-26T00:30:00Z"}));
  EXPECT_EQ(berlin("30 2 * * *", "2040-10-27T12:00:00Z", 2),
            (Runs{"2040-10-28T00:30:00Z", "2040-10-29T01:30:00Z"}));
  EXPECT_EQ(berlin("*/30 * * * *", "2040-10-27T23:45:00Z", 5),
            (Runs{"2040-10-28T00:00:00Z", "2040-10-28T00:30:00Z", "2040-10-28T01:00:00Z",
                  "2040-10-28T01:30:00Z", "2040-10-28T02:00:00Z"}));
  EXPECT_EQ(runs(parsed("30 2 * * *", "America/New_York", zones_), "2040-03-10T12:00:00Z", 1),
            (Runs{"2040-03-11T07:00:00Z"}));
}

}  // namespace
}  // namespace kubefn::schedule
