#include "kubefn/schedule/cron_fields.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "schedule_testing.hpp"

namespace kubefn::schedule {
namespace {

using testing::local;

std::uint64_t bits(std::initializer_list<int> values) {
  std::uint64_t b = 0;
  for (int v : values)
    b |= std::uint64_t{1} << v;
  return b;
}

std::uint64_t range(int lo, int hi) {
  std::uint64_t b = 0;
  for (int v = lo; v <= hi; ++v)
    b |= std::uint64_t{1} << v;
  return b;
}

CronFields fields(const std::string& text) {
  auto f = CronFields::parse(text);
  if (!f) {
    ADD_FAILURE() << text << ": " << f.error().message;
    return {};
  }
  return f.value();
}

struct BadCase {
  std::string fields;
  std::string error;
};

TEST(CronFields, RejectsEachFieldWithAMessageNamingIt) {
  const BadCase cases[] = {
      {"", "expected 5 fields (minute hour day-of-month month day-of-week), found 0 in \"\""},
      {"* * * *",
       "expected 5 fields (minute hour day-of-month month day-of-week), found 4 in \"* * * *\""},
      {"0 * * * * *",
       "expected 5 fields (minute hour day-of-month month day-of-week), found 6 in "
       "\"0 * * * * *\" (a seconds field is not supported)"},
      {"61 * * * *", "minute field \"61\": 61 is out of range 0-59"},
      {"1,61 * * * *", "minute field \"1,61\": 61 is out of range 0-59"},
      {"99999 * * * *", "minute field \"99999\": 99999 is out of range 0-59"},
      {"* 24 * * *", "hour field \"24\": 24 is out of range 0-23"},
      {"* * 0 * *", "day-of-month field \"0\": 0 is out of range 1-31"},
      {"* * 32 * *", "day-of-month field \"32\": 32 is out of range 1-31"},
      {"* * * 0 *", "month field \"0\": 0 is out of range 1-12 or JAN-DEC"},
      {"* * * 13 *", "month field \"13\": 13 is out of range 1-12 or JAN-DEC"},
      {"* * * * 8",
       "day-of-week field \"8\": 8 is out of range 0-7 or SUN-SAT (0 and 7 are Sunday)"},
      {"a * * * *", "minute field \"a\": \"a\" is not a number"},
      {"* JAN * * *", "hour field \"JAN\": \"JAN\" is not a number"},
      {"* * MON * *", "day-of-month field \"MON\": \"MON\" is not a number"},
      {"* * * JANUARY *",
       "month field \"JANUARY\": \"JANUARY\" is not a number or a month name (JAN-DEC)"},
      {"* * * MON *", "month field \"MON\": \"MON\" is not a number or a month name (JAN-DEC)"},
      {"* * * * MONDAY",
       "day-of-week field \"MONDAY\": \"MONDAY\" is not a number or a day name (SUN-SAT)"},
      {"* * * * JAN", "day-of-week field \"JAN\": \"JAN\" is not a number or a day name (SUN-SAT)"},
      {"5-1 * * * *", "minute field \"5-1\": range 5-1 starts after it ends"},
      {"* * * DEC-JAN *", "month field \"DEC-JAN\": range DEC-JAN starts after it ends"},
      {"* * * * FRI-SUN",
       "day-of-week field \"FRI-SUN\": range FRI-SUN starts after it ends (write Sunday as 7 at "
       "a range's end)"},
      {"*/0 * * * *", "minute field \"*/0\": step in \"*/0\" must be at least 1"},
      {"*/x * * * *", "minute field \"*/x\": step \"x\" in \"*/x\" is not a number"},
      {"*/ * * * *", "minute field \"*/\": step \"\" in \"*/\" is not a number"},
      {"1/2/3 * * * *", "minute field \"1/2/3\": \"1/2/3\" has more than one '/'"},
      {"1-2-3 * * * *", "minute field \"1-2-3\": \"1-2-3\" has more than one '-'"},
      {"1- * * * *", "minute field \"1-\": \"1-\" is missing a number"},
      {"-5 * * * *", "minute field \"-5\": \"-5\" is missing a number"},
      {"1,,2 * * * *", "minute field \"1,,2\": empty list element (two commas, or one at an end)"},
      {"1, * * * *", "minute field \"1,\": empty list element (two commas, or one at an end)"},
      {"? * * * *",
       "minute field \"?\": ? is only allowed in the day-of-month and day-of-week fields"},
      {"* * * ? *",
       "month field \"?\": ? is only allowed in the day-of-month and day-of-week fields"},
      {"* * L * *",
       "day-of-month field \"L\": \"L\": L, W and # (Quartz extensions) are not supported"},
      {"* * 15W * *",
       "day-of-month field \"15W\": \"15W\": L, W and # (Quartz extensions) are not supported"},
      {"* * * * 5#3",
       "day-of-week field \"5#3\": \"5#3\": L, W and # (Quartz extensions) are not supported"},
      {"* * * * 5L",
       "day-of-week field \"5L\": \"5L\": L, W and # (Quartz extensions) are not supported"},
      {"0 0 30 2 *",
       "day-of-month field \"30\" never occurs in month field \"2\" (at most 29 days): the "
       "schedule would never run; choose days those months have"},
      {"0 0 31 APR,jun,9,11 ?",
       "day-of-month field \"31\" never occurs in month field \"APR,jun,9,11\" (at most 30 "
       "days): the schedule would never run; choose days those months have"},
  };
  for (const auto& c : cases) {
    auto f = CronFields::parse(c.fields);
    ASSERT_FALSE(f.ok()) << c.fields;
    EXPECT_EQ(f.error().message, c.error) << c.fields;
  }
}

TEST(CronFields, ReadsListsRangesAndSteps) {
  struct Case {
    std::string fields;
    std::uint64_t minutes;
    std::uint64_t hours;
  };
  const Case cases[] = {
      {"* * * * *", range(0, 59), range(0, 23)},
      {"0 0 * * *", bits({0}), bits({0})},
      {"*/15 */6 * * *", bits({0, 15, 30, 45}), bits({0, 6, 12, 18})},
      {"5-20/5 9-17 * * *", bits({5, 10, 15, 20}), range(9, 17)},
      {"10/20 22/1 * * *", bits({10, 30, 50}), bits({22, 23})},
      {"1,3-5,50-59/3 0,12 * * *", bits({1, 3, 4, 5, 50, 53, 56, 59}), bits({0, 12})},
      {"00,05 07 * * *", bits({0, 5}), bits({7})},
      {"*/100 */24 * * *", bits({0}), bits({0})},
      {"59/5 23-23 * * *", bits({59}), bits({23})},
  };
  for (const auto& c : cases) {
    const CronFields f = fields(c.fields);
    EXPECT_EQ(f.minutes, c.minutes) << c.fields;
    EXPECT_EQ(f.hours, c.hours) << c.fields;
  }
}

TEST(CronFields, ReadsMonthAndDayNamesInAnyCase) {
  EXPECT_EQ(fields("0 0 1 JAN-MAR,dec *").months, bits({1, 2, 3, 12}));
  EXPECT_EQ(fields("0 0 1 jan,Feb,MAR/2 *").months, bits({1, 2, 3, 5, 7, 9, 11}));
  EXPECT_EQ(fields("0 0 * * mon-FRI").days_of_week, range(1, 5));
  EXPECT_EQ(fields("0 0 * * Sun,sat").days_of_week, bits({0, 6}));
  EXPECT_EQ(fields("0 0 * * MON/2").days_of_week, bits({1, 3, 5}));
}

TEST(CronFields, DayOfWeekSevenIsSunday) {
  EXPECT_EQ(fields("0 0 * * 7").days_of_week, bits({0}));
  EXPECT_EQ(fields("0 0 * * 5-7").days_of_week, bits({0, 5, 6}));
  EXPECT_EQ(fields("0 0 * * 0-7").days_of_week, range(0, 6));
  EXPECT_EQ(fields("0 0 * * */2").days_of_week, bits({0, 2, 4, 6}));
  EXPECT_EQ(fields("0 0 * * *").days_of_week, range(0, 6));
}

TEST(CronFields, QuestionMarkIsAStarInDayFields) {
  EXPECT_EQ(fields("0 0 ? * 1"), fields("0 0 * * 1"));
  EXPECT_EQ(fields("0 0 1 * ?"), fields("0 0 1 * *"));
  EXPECT_TRUE(fields("0 0 ? * 1").any_day_of_month);
}

// robfig/cron's rule for what counts as an unrestricted day field: `*` or `?`, or a step of 1.
TEST(CronFields, OnlyAStarWithoutAStepLeavesADayFieldUnrestricted) {
  EXPECT_TRUE(fields("0 0 * * *").any_day_of_month);
  EXPECT_TRUE(fields("0 0 */1 * */1").any_day_of_week);
  EXPECT_FALSE(fields("0 0 */2 * *").any_day_of_month);
  EXPECT_FALSE(fields("0 0 1-31 * *").any_day_of_month);
  EXPECT_FALSE(fields("0 0 * * 0-6").any_day_of_week);
}

TEST(CronFields, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th, or any Friday: 2026-02-06 and 2026-02-13 (both), 2026-03-13 (a Friday too).
  const CronFields either = fields("0 0 13 * FRI");
  EXPECT_TRUE(either.matches_day(2026, 2, 6));    // Friday
  EXPECT_TRUE(either.matches_day(2026, 2, 13));   // the 13th (a Friday)
  EXPECT_TRUE(either.matches_day(2026, 1, 13));   // the 13th (a Tuesday)
  EXPECT_FALSE(either.matches_day(2026, 2, 12));  // neither
  // With one of them `*`, both must match (the `*` always does).
  const CronFields fridays = fields("0 0 * * FRI");
  EXPECT_TRUE(fridays.matches_day(2026, 2, 6));
  EXPECT_FALSE(fridays.matches_day(2026, 1, 13));
  const CronFields thirteenth = fields("0 0 13 * ?");
  EXPECT_TRUE(thirteenth.matches_day(2026, 1, 13));
  EXPECT_FALSE(thirteenth.matches_day(2026, 2, 6));
  // A stepped day field restricts: odd days or Mondays.
  const CronFields odd_or_monday = fields("0 0 */2 * MON");
  EXPECT_TRUE(odd_or_monday.matches_day(2026, 5, 4));   // Monday, even
  EXPECT_TRUE(odd_or_monday.matches_day(2026, 5, 5));   // odd
  EXPECT_FALSE(odd_or_monday.matches_day(2026, 5, 6));  // Wednesday, even
}

TEST(CronFields, WallClockUnlessTheMinuteOrHourStartsWithAStar) {
  EXPECT_TRUE(fields("30 2 * * *").wall_clock);
  EXPECT_TRUE(fields("0 0-23 * * *").wall_clock);
  EXPECT_TRUE(fields("0,30 9-17 * * 1-5").wall_clock);
  EXPECT_FALSE(fields("*/15 * * * *").wall_clock);
  EXPECT_FALSE(fields("0 * * * *").wall_clock);
  EXPECT_FALSE(fields("30 */2 * * *").wall_clock);
  EXPECT_FALSE(fields("* 3 * * *").wall_clock);
}

TEST(CronFields, NextMatchSkipsByField) {
  struct Case {
    std::string fields;
    std::string from;
    std::string match;
  };
  const Case cases[] = {
      {"* * * * *", "2026-05-17T10:20:00", "2026-05-17T10:20:00"},  // inclusive
      {"* * * * *", "2026-05-17T10:20:01", "2026-05-17T10:21:00"},  // whole minutes
      {"0 0 1 * *", "2026-01-31T12:00:00", "2026-02-01T00:00:00"},  // month end
      {"59 23 31 12 *", "2026-05-17T00:00:00", "2026-12-31T23:59:00"},
      {"0 0 1 1 *", "2026-12-31T23:59:59", "2027-01-01T00:00:00"},          // year end
      {"0 12 31 * *", "2026-04-15T00:00:00", "2026-05-31T12:00:00"},        // April has 30 days
      {"0 0 29 2 *", "2026-01-01T00:00:00", "2028-02-29T00:00:00"},         // next leap year
      {"0 0 29 2 *", "2096-03-01T00:00:00", "2104-02-29T00:00:00"},         // 2100 is not leap
      {"30 6-16/4 * * 1-5", "2026-05-01T14:31:00", "2026-05-04T06:30:00"},  // Fri -> Mon
  };
  for (const auto& c : cases) {
    const auto m = fields(c.fields).next_match(local(c.from));
    ASSERT_TRUE(m.has_value()) << c.fields;
    EXPECT_EQ(*m, local(c.match)) << c.fields << " from " << c.from;
  }
}

TEST(CronFields, NextMatchEndsAtTheYear9999) {
  EXPECT_FALSE(fields("0 0 1 1 *").next_match(local("9999-01-01T00:00:01")).has_value());
  EXPECT_EQ(fields("59 23 31 12 *").next_match(local("9999-01-01T00:00:00")),
            local("9999-12-31T23:59:00"));
}

}  // namespace
}  // namespace kubefn::schedule
