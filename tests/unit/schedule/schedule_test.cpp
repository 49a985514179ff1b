#include "kubefn/schedule/schedule.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "schedule_testing.hpp"

namespace kubefn::schedule {
namespace {

using testing::iso;
using testing::parse_error;
using testing::parsed;
using testing::runs;
using testing::utc;
using Runs = std::vector<std::string>;

class ScheduleTest : public ::testing::Test {
 protected:
  TimeZoneDatabase zones_;
};

TEST_F(ScheduleTest, RejectsBadSpecsSayingWhatToFix) {
  struct Case {
    std::string spec;
    std::string zone;
    std::string error;
  };
  const Case cases[] = {
      {"", "",
       "empty schedule: expected 5 fields (minute hour day-of-month month day-of-week), a "
       "descriptor such as @daily, or @every <duration>"},
      {"   ", "",
       "empty schedule: expected 5 fields (minute hour day-of-month month "
       "day-of-week), a descriptor such as @daily, or @every <duration>"},
      {"61 * * * *", "", "minute field \"61\": 61 is out of range 0-59"},
      {"0 0 30 2 *", "",
       "day-of-month field \"30\" never occurs in month field \"2\" (at most 29 days): the "
       "schedule would never run; choose days those months have"},
      {"@fortnightly", "",
       "unknown descriptor \"@fortnightly\": use @yearly, @annually, @monthly, @weekly, @daily, "
       "@midnight, @hourly or @every <duration>"},
      {"@daily 0", "", "@daily takes nothing after it"},
      {"@every", "", "@every needs an interval, e.g. @every 1h30m"},
      {"@every 1h 30m", "",
       "@every takes one duration without spaces, e.g. @every 1h30m, not \"@every 1h 30m\""},
      {"@every 500ms", "", "@every 500ms: the interval must be at least 1s"},
      {"@every 0", "", "@every 0: the interval must be at least 1s"},
      {"@every -5s", "", "@every -5s: the interval must be at least 1s"},
      {"@every 1.5s", "", "@every 1.5s: the interval must be a whole number of seconds"},
      {"@every 1001ms", "", "@every 1001ms: the interval must be a whole number of seconds"},
      {"@every 10", "", "@every: invalid duration \"10\": missing unit (h, m, s, ms, us or ns)"},
      {"@every 1x", "",
       "@every: invalid duration \"1x\": unknown unit \"x\" (use h, m, s, ms, us or ns)"},
      {"@every 1H", "",
       "@every: invalid duration \"1H\": unknown unit \"H\" (use h, m, s, ms, us or ns)"},
      {"@every .s", "", "@every: invalid duration \".s\": expected a number before each unit"},
      {"@every 3000000h", "", "@every: invalid duration \"3000000h\": out of range"},
      {"@every 99999999999999999999s", "",
       "@every: invalid duration \"99999999999999999999s\": out of range"},
      {"CRON_TZ= 0 2 * * *", "",
       "CRON_TZ= needs a zone name, e.g. CRON_TZ=Europe/Berlin 0 2 * * *"},
      {"TZ=Europe/Berlin", "",
       "nothing after TZ=Europe/Berlin: expected the schedule, e.g. TZ=Europe/Berlin 0 2 * * *"},
      {"CRON_TZ=Europe/Berlin 0 2 * * *", "UTC",
       "the schedule sets its zone (CRON_TZ=Europe/Berlin) and so does timeZone (\"UTC\"): set "
       "only timeZone"},
      {"CRON_TZ=Mars/Olympus 0 2 * * *", "",
       "time zone \"Mars/Olympus\": unknown time zone (no such file in /usr/share/zoneinfo)"},
      {"0 2 * * *", "Mars/Olympus",
       "time zone \"Mars/Olympus\": unknown time zone (no such file in /usr/share/zoneinfo)"},
      {"0 2 * * *", "../../etc/passwd",
       "time zone \"../../etc/passwd\": not an IANA time zone name such as \"Europe/Berlin\" "
       "(letters, digits, _ - + in /-separated parts; no absolute path, no \"..\")"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(parse_error(c.spec, c.zone, zones_), c.error) << c.spec << " in " << c.zone;
  }
}

TEST_F(ScheduleTest, DescriptorsAreTheirFields) {
  struct Case {
    std::string spec;
    std::string first;
    std::string second;
  };
  const Case cases[] = {
      {"@yearly", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
      {"@annually", "2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"},
      {"@monthly", "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"},
      {"@weekly", "2026-05-24T00:00:00Z", "2026-05-31T00:00:00Z"},  // Sundays
      {"@daily", "2026-05-18T00:00:00Z", "2026-05-19T00:00:00Z"},
      {"@midnight", "2026-05-18T00:00:00Z", "2026-05-19T00:00:00Z"},
      {"@hourly", "2026-05-17T11:00:00Z", "2026-05-17T12:00:00Z"},
      {"@DAILY", "2026-05-18T00:00:00Z", "2026-05-19T00:00:00Z"},
      {"  @hourly  ", "2026-05-17T11:00:00Z", "2026-05-17T12:00:00Z"},
  };
  for (const auto& c : cases) {
    const Schedule s = parsed(c.spec, "", zones_);
    EXPECT_EQ(runs(s, "2026-05-17T10:20:30Z", 2), (Runs{c.first, c.second})) << c.spec;
  }
  EXPECT_EQ(*parsed("@weekly", "", zones_).fields(), *parsed("0 0 * * 0", "", zones_).fields());
}

TEST_F(ScheduleTest, NextIsStrictlyAfter) {
  const Schedule s = parsed("*/15 * * * *", "", zones_);
  EXPECT_EQ(iso(s.next(utc("2026-05-17T10:15:00Z"))), "2026-05-17T10:30:00Z");
  EXPECT_EQ(iso(s.next(utc("2026-05-17T10:14:59Z"))), "2026-05-17T10:15:00Z");
  EXPECT_EQ(iso(s.next(utc("2026-05-17T10:15:01Z"))), "2026-05-17T10:30:00Z");
  EXPECT_EQ(runs(s, "2026-05-17T23:40:00Z", 3),
            (Runs{"2026-05-17T23:45:00Z", "2026-05-18T00:00:00Z", "2026-05-18T00:15:00Z"}));
}

TEST_F(ScheduleTest, NextCrossesMonthAndYearEnds) {
  EXPECT_EQ(runs(parsed("0 0 1 * *", "", zones_), "2026-01-31T12:00:00Z", 2),
            (Runs{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}));
  EXPECT_EQ(runs(parsed("59 23 31 12 *", "", zones_), "2026-12-31T23:59:00Z", 1),
            (Runs{"2027-12-31T23:59:00Z"}));
  EXPECT_EQ(runs(parsed("0 0 * * *", "", zones_), "2026-12-31T00:00:00Z", 2),
            (Runs{"2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z"}));
  // The 31st: months without one are skipped.
  EXPECT_EQ(runs(parsed("0 12 31 * *", "", zones_), "2026-01-31T12:00:00Z", 4),
            (Runs{"2026-03-31T12:00:00Z", "2026-05-31T12:00:00Z", "2026-07-31T12:00:00Z",
                  "2026-08-31T12:00:00Z"}));
}

TEST_F(ScheduleTest, February29thRunsInLeapYears) {
  EXPECT_EQ(runs(parsed("0 0 29 2 *", "", zones_), "2026-01-01T00:00:00Z", 3),
            (Runs{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}));
  EXPECT_EQ(runs(parsed("0 0 29 FEB *", "", zones_), "2096-02-29T00:00:00Z", 1),
            (Runs{"2104-02-29T00:00:00Z"}));  // 2100 is not a leap year
  // Or on Mondays, by the day-of-month/day-of-week rule.
  EXPECT_EQ(runs(parsed("0 0 29 2 MON", "", zones_), "2028-02-26T00:00:00Z", 3),
            (Runs{"2028-02-28T00:00:00Z", "2028-02-29T00:00:00Z", "2029-02-05T00:00:00Z"}));
}

TEST_F(ScheduleTest, DayOfMonthOrDayOfWeek) {
  // 1st of the month or any Monday (Vixie's OR), from Tuesday 2026-05-26.
  EXPECT_EQ(runs(parsed("0 9 1 * MON", "", zones_), "2026-05-26T00:00:00Z", 4),
            (Runs{"2026-06-01T09:00:00Z", "2026-06-08T09:00:00Z", "2026-06-15T09:00:00Z",
                  "2026-06-22T09:00:00Z"}));
  EXPECT_EQ(runs(parsed("0 9 15 * FRI", "", zones_), "2026-05-10T00:00:00Z", 3),
            (Runs{"2026-05-15T09:00:00Z", "2026-05-22T09:00:00Z", "2026-05-29T09:00:00Z"}));
  EXPECT_EQ(runs(parsed("0 9 14 * FRI", "", zones_), "2026-05-10T00:00:00Z", 3),
            (Runs{"2026-05-14T09:00:00Z", "2026-05-15T09:00:00Z", "2026-05-22T09:00:00Z"}));
  // With one side `*` or `?`, only the other counts.
  EXPECT_EQ(runs(parsed("0 9 ? * MON", "", zones_), "2026-05-26T00:00:00Z", 1),
            (Runs{"2026-06-01T09:00:00Z"}));
  EXPECT_EQ(runs(parsed("0 9 1 * *", "", zones_), "2026-05-26T00:00:00Z", 1),
            (Runs{"2026-06-01T09:00:00Z"}));
}

TEST_F(ScheduleTest, EveryIsElapsedTimeFromTheArgument) {
  struct Case {
    std::string spec;
    std::int64_t seconds;
  };
  const Case cases[] = {
      {"@every 1s", 1},
      {"@every 90s", 90},
      {"@every 1m30s", 90},
      {"@every 1h30m", 5400},
      {"@every 1.5h", 5400},
      {"@every 2h45m10s", 9910},
      {"@every 1000ms", 1},
      {"@every 1500000us", -1},
      {"@every 2000000000ns", 2},
      {"@every +5m", 300},
      {"@EVERY 1m", 60},
      {"@every 24h", 86400},
      {"@every 0.5m", 30},
      {"@every .5m", 30},
      {"@every 5.m", 300},
      {"@every 1\xC2\xB5s", -1},
      {"@every 3000000\xCE\xBCs", 3},
  };
  for (const auto& c : cases) {
    auto s = Schedule::parse(c.spec, "", zones_);
    if (c.seconds < 0) {
      EXPECT_FALSE(s.ok()) << c.spec;
      continue;
    }
    ASSERT_TRUE(s.ok()) << c.spec << ": " << s.error().message;
    EXPECT_EQ(s->interval(), std::chrono::seconds{c.seconds}) << c.spec;
    EXPECT_EQ(s->fields(), nullptr);
    EXPECT_EQ(s->next(utc("2026-05-17T10:20:30Z")),
              utc("2026-05-17T10:20:30Z") + std::chrono::seconds{c.seconds})
        << c.spec;
  }
}

TEST_F(ScheduleTest, ZonePrefixLikeRobfigCron) {
  // Berlin is UTC+1 in January, India UTC+5:30 all year.
  EXPECT_EQ(runs(parsed("CRON_TZ=Europe/Berlin 0 2 * * *", "", zones_), "2026-01-10T00:00:00Z", 1),
            (Runs{"2026-01-10T01:00:00Z"}));
  EXPECT_EQ(runs(parsed("TZ=Asia/Kolkata 0 9 * * *", "", zones_), "2026-01-10T00:00:00Z", 1),
            (Runs{"2026-01-10T03:30:00Z"}));
  EXPECT_EQ(parsed("CRON_TZ=Europe/Berlin   @daily", "", zones_).time_zone().name(),
            "Europe/Berlin");
  EXPECT_EQ(parsed("0 9 * * *", "Asia/Kolkata", zones_).time_zone().name(), "Asia/Kolkata");
  EXPECT_EQ(parsed("0 9 * * *", "", zones_).time_zone().name(), "UTC");
  EXPECT_EQ(parsed("0 9 * * *", "UTC", zones_).time_zone().name(), "UTC");
}

TEST_F(ScheduleTest, KeepsTheSpecAsGiven) {
  EXPECT_EQ(parsed("  0 9 * * *\n", "", zones_).spec(), "0 9 * * *");
  EXPECT_EQ(parsed("CRON_TZ=UTC @hourly", "", zones_).spec(), "CRON_TZ=UTC @hourly");
}

TEST_F(ScheduleTest, TheCalendarStartsInTheYear1) {
  EXPECT_EQ(iso(parsed("0 0 1 1 *", "", zones_).next(kMinInstant)), "0001-01-01T00:00:00Z");
  EXPECT_EQ(iso(parsed("@hourly", "Europe/Berlin", zones_).next(kMinInstant)),
            "0001-01-01T00:06:32Z");  // local mean time, UTC+0:53:28
}

TEST_F(ScheduleTest, NoRunAfterTheYear9999) {
  EXPECT_EQ(iso(parsed("0 0 1 1 *", "", zones_).next(utc("9999-06-01T00:00:00Z"))), "none");
  EXPECT_EQ(iso(parsed("@every 24h", "", zones_).next(utc("9999-12-31T12:00:00Z"))), "none");
  EXPECT_EQ(iso(parsed("59 23 31 12 *", "", zones_).next(utc("9999-06-01T00:00:00Z"))),
            "9999-12-31T23:59:00Z");
}

// Next skips by fields: years of a sparse schedule are a few steps, not a scan of minutes.
TEST_F(ScheduleTest, SparseSchedulesAreQuick) {
  const Schedule leap = parsed("0 0 29 2 *", "Europe/Berlin", zones_);
  Instant t = utc("2026-01-01T00:00:00Z");
  for (int i = 0; i < 500; ++i)
    t = *leap.next(t);
  EXPECT_EQ(iso(t), "4084-02-28T23:00:00Z");
}

}  // namespace
}  // namespace kubefn::schedule
