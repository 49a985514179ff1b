#include "kubefn/schedule/posix_tz.hpp"

#include <gtest/gtest.h>

#include <string>

#include "schedule_testing.hpp"

namespace kubefn::schedule {
namespace {

using testing::iso;
using testing::utc;

PosixTimeZone rule(const std::string& tz) {
  auto r = PosixTimeZone::parse(tz);
  if (!r) {
    ADD_FAILURE() << tz << ": " << r.error().message;
    return PosixTimeZone::parse("UTC0").value();
  }
  return r.value();
}

std::string bound(Instant t) {
  return t == kMinInstant ? "min" : t == kMaxInstant ? "max" : iso(t);
}

// "<begin> <end> <offset seconds> <dst|std> <abbreviation>"
std::string describe(const ZoneInfo& z) {
  return bound(z.begin) + " " + bound(z.end) + " " + std::to_string(z.offset.count()) +
         (z.is_dst ? " dst " : " std ") + z.abbreviation;
}

TEST(PosixTimeZone, RefusesMalformedRules) {
  struct Case {
    std::string tz;
    std::string error;
  };
  const std::string no_name = "expected a standard-time name (3+ letters or <...>) first";
  const std::string bad_start = "bad start of daylight time (Jn, n or Mm.w.d, then /time)";
  const Case cases[] = {
      {"", no_name},
      {"ES5", no_name},
      {"<AB>5", no_name},
      {"<ABC5", no_name},
      {"5EST", no_name},
      {"EST", "expected the standard time's offset after EST"},
      {"EST25", "expected the standard time's offset after EST"},
      {"EST5:60", "expected the standard time's offset after EST"},
      {"EST5x", "expected a daylight-time name after the standard offset"},
      {"EST5EDT", "daylight time needs its rule (,start[/time],end[/time])"},
      {"EST5EDT4", "daylight time needs its rule (,start[/time],end[/time])"},
      {"EST5EDT,M3.2.0", "expected ',' and the end of daylight time"},
      {"EST5EDT,M13.2.0,M11.1.0", bad_start},
      {"EST5EDT,M3.6.0,M11.1.0", bad_start},
      {"EST5EDT,M3.0.0,M11.1.0", bad_start},
      {"EST5EDT,M3.2.7,M11.1.0", bad_start},
      {"EST5EDT,J0,J365", bad_start},
      {"EST5EDT,366,0", bad_start},
      {"EST5EDT,M3.2.0/168,M11.1.0", bad_start},
      {"EST5EDT,M3.2.0,M11.1", "bad end of daylight time (Jn, n or Mm.w.d, then /time)"},
      {"EST5EDT,J1,J366", "bad end of daylight time (Jn, n or Mm.w.d, then /time)"},
      {"EST5EDT,M3.2.0,M11.1.0x", "unexpected text after the rule"},
      {"EST5EDT,M3.2.0,M11.1.0,", "unexpected text after the rule"},
  };
  for (const auto& c : cases) {
    auto r = PosixTimeZone::parse(c.tz);
    ASSERT_FALSE(r.ok()) << c.tz;
    EXPECT_EQ(r.error().message, "POSIX TZ rule \"" + c.tz + "\": " + c.error);
  }
}

TEST(PosixTimeZone, FixedOffsets) {
  EXPECT_EQ(describe(rule("UTC0").info(utc("2026-07-01T00:00Z"))), "min max 0 std UTC");
  EXPECT_EQ(describe(rule("IST-5:30").info(utc("2026-07-01T00:00Z"))), "min max 19800 std IST");
  EXPECT_EQ(describe(rule("<+0530>-5:30").info(utc("2026-07-01T00:00Z"))),
            "min max 19800 std +0530");
  EXPECT_EQ(describe(rule("<-03>3").info(utc("2026-07-01T00:00Z"))), "min max -10800 std -03");
  EXPECT_EQ(describe(rule("XYZ+1:02:03").info(utc("2026-07-01T00:00Z"))), "min max -3723 std XYZ");
  EXPECT_FALSE(rule("IST-5:30").has_dst());
}

TEST(PosixTimeZone, NorthernDaylightSaving) {
  const PosixTimeZone ny = rule("EST5EDT,M3.2.0,M11.1.0");
  EXPECT_TRUE(ny.has_dst());
  EXPECT_EQ(describe(ny.info(utc("2026-07-01T00:00Z"))),
            "2026-03-08T07:00:00Z 2026-11-01T06:00:00Z -14400 dst EDT");
  EXPECT_EQ(describe(ny.info(utc("2026-01-01T00:00Z"))),
            "2025-11-02T06:00:00Z 2026-03-08T07:00:00Z -18000 std EST");
  EXPECT_EQ(describe(ny.info(utc("2026-03-08T07:00:00Z"))).substr(0, 20), "2026-03-08T07:00:00Z");
  // An explicit daylight offset and change times with minutes and seconds.
  EXPECT_EQ(describe(rule("EST5EDT3,M3.2.0/2:30:15,M11.1.0/1").info(utc("2026-07-01T00:00Z"))),
            "2026-03-08T07:30:15Z 2026-11-01T04:00:00Z -10800 dst EDT");
}

TEST(PosixTimeZone, SouthernDaylightSavingSpansTheNewYear) {
  const PosixTimeZone sydney = rule("AEST-10AEDT,M10.1.0,M4.1.0/3");
  EXPECT_EQ(describe(sydney.info(utc("2026-07-01T00:00Z"))),
            "2026-04-04T16:00:00Z 2026-10-03T16:00:00Z 36000 std AEST");
  EXPECT_EQ(describe(sydney.info(utc("2026-12-25T00:00Z"))),
            "2026-10-03T16:00:00Z 2027-04-03T16:00:00Z 39600 dst AEDT");
  const PosixTimeZone lord_howe = rule("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
  EXPECT_EQ(describe(lord_howe.info(utc("2026-07-01T00:00Z"))),
            "2026-04-04T15:00:00Z 2026-10-03T15:30:00Z 37800 std +1030");
}

// TZif version 3: times from -167 to 167 hours (America/Nuuk changes at -1:00 local time).
TEST(PosixTimeZone, NegativeChangeTimes) {
  EXPECT_EQ(describe(rule("<-02>2<-01>,M3.5.0/-1,M10.5.0/0").info(utc("2026-07-01T00:00Z"))),
            "2026-03-29T01:00:00Z 2026-10-25T01:00:00Z -3600 dst -01");
  EXPECT_EQ(describe(rule("ABC0DEF,M3.5.0/-167,M10.5.0/167").info(utc("2026-07-01T00:00Z"))),
            "2026-03-22T01:00:00Z 2026-10-31T22:00:00Z 3600 dst DEF");
}

// Jn counts days 1-365 and never February 29th; n counts 0-365 and does.
TEST(PosixTimeZone, JulianDays) {
  EXPECT_EQ(describe(rule("XST0XDT,J60/0,J61/0").info(utc("2028-03-01T12:00Z"))),
            "2028-03-01T00:00:00Z 2028-03-01T23:00:00Z 3600 dst XDT");
  EXPECT_EQ(describe(rule("XST0XDT,J60/0,J61/0").info(utc("2027-03-01T12:00Z"))),
            "2027-03-01T00:00:00Z 2027-03-01T23:00:00Z 3600 dst XDT");
  EXPECT_EQ(describe(rule("XST0XDT,59/0,60/0").info(utc("2028-02-29T12:00Z"))),
            "2028-02-29T00:00:00Z 2028-02-29T23:00:00Z 3600 dst XDT");
  EXPECT_EQ(describe(rule("XST0XDT,59/0,60/0").info(utc("2027-03-01T12:00Z"))),
            "2027-03-01T00:00:00Z 2027-03-01T23:00:00Z 3600 dst XDT");
}

// Daylight time from January 1st 00:00 to December 31st 24:00 + 1h is in force all year.
TEST(PosixTimeZone, DaylightSavingAllYear) {
  const PosixTimeZone z = rule("EST5EDT,0/0,J365/25");
  for (const char* t : {"2026-01-01T04:59:59Z", "2026-01-01T05:00:00Z", "2026-06-01T00:00:00Z",
                        "2026-12-31T23:59:59Z", "2027-01-01T05:00:00Z"}) {
    const ZoneInfo info = z.info(utc(t));
    EXPECT_TRUE(info.is_dst) << t;
    EXPECT_EQ(info.offset.count(), -14400) << t;
  }
}

}  // namespace
}  // namespace kubefn::schedule
