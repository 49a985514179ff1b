#include "kubefn/schedule/time_zone.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "kubefn/schedule/time_zone_database.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "schedule_testing.hpp"

namespace kubefn::schedule {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::iso;
using testing::local;
using testing::tzif_file;
using testing::TzifType;
using testing::utc;

std::shared_ptr<const TimeZone> zone(TimeZoneDatabase& db, std::string_view name) {
  auto z = db.locate(name);
  if (!z) {
    ADD_FAILURE() << z.error().message;
    return std::make_shared<const TimeZone>(TimeZone::utc());
  }
  return z.value();
}

// "<offset seconds> <dst|std> <abbreviation>"
std::string offset_text(const ZoneInfo& z) {
  return std::to_string(z.offset.count()) + (z.is_dst ? " dst " : " std ") + z.abbreviation;
}

std::string bound(Instant t) {
  return t == kMinInstant ? "min" : t == kMaxInstant ? "max" : iso(t);
}

// "<begin> <end> <offset seconds> <dst|std> <abbreviation>"
std::string describe(const ZoneInfo& z) {
  return bound(z.begin) + " " + bound(z.end) + " " + offset_text(z);
}

std::string describe(const LocalInfo& l) {
  const char* kind = l.kind == LocalInfo::Kind::kUnique ? "unique"
                     : l.kind == LocalInfo::Kind::kGap  ? "gap"
                                                        : "overlap";
  return std::string(kind) + " " + iso(l.first) + " " + iso(l.second) + " " +
         l.earlier.abbreviation + "->" + l.later.abbreviation;
}

TEST(ZoneName, RefusesPathsThatAreNotZoneNames) {
  for (const char* bad : {"", "/etc/passwd", "../etc/passwd", "Europe/../../etc/passwd",
                          "Europe/..", "./Europe/Berlin", "Europe//Berlin", "Europe/Berlin/",
                          "Europe\\Berlin", "Europe/Ber lin", "Europe/Berlin\n", "$HOME"}) {
    EXPECT_FALSE(valid_zone_name(bad)) << bad;
  }
  for (const char* good : {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5",
                           "Etc/GMT-14", "America/Port-au-Prince", "EST5EDT"}) {
    EXPECT_TRUE(valid_zone_name(good)) << good;
  }
}

TEST(TimeZoneDatabase, ErrorsNameTheZone) {
  TimeZoneDatabase db;
  struct Case {
    std::string name;
    std::string error;
  };
  const Case cases[] = {
      {"/etc/passwd",
       "time zone \"/etc/passwd\": not an IANA time zone name such as \"Europe/Berlin\" "
       "(letters, digits, _ - + in /-separated parts; no absolute path, no \"..\")"},
      {"Europe/../../etc/passwd",
       "time zone \"Europe/../../etc/passwd\": not an IANA time zone name such as "
       "\"Europe/Berlin\" (letters, digits, _ - + in /-separated parts; no absolute path, no "
       "\"..\")"},
      {"Mars/Olympus",
       "time zone \"Mars/Olympus\": unknown time zone (no such file in /usr/share/zoneinfo)"},
      {"Europe", "time zone \"Europe\": unknown time zone (no such file in /usr/share/zoneinfo)"},
      {"europe/berlin",
       "time zone \"europe/berlin\": unknown time zone (no such file in /usr/share/zoneinfo)"},
      {"zone1970.tab", "time zone \"zone1970.tab\": not a TZif file"},
  };
  for (const auto& c : cases) {
    auto z = db.locate(c.name);
    ASSERT_FALSE(z.ok()) << c.name;
    EXPECT_EQ(z.error().message, c.error);
  }
}

TEST(TimeZoneDatabase, UtcNeedsNoFile) {
  TimeZoneDatabase db("/nonexistent");
  for (const char* name : {"", "UTC"}) {
    auto z = db.locate(name);
    ASSERT_TRUE(z.ok()) << name;
    EXPECT_EQ(z.value()->name(), "UTC");
    EXPECT_EQ(describe(z.value()->info(utc("2026-07-01T00:00Z"))), "min max 0 std UTC");
  }
  EXPECT_FALSE(db.locate("Europe/Berlin").ok());
}

TEST(TimeZoneDatabase, KeepsZonesOnceRead) {
  kubefn::testing::TempDir dir;
  dir.write("Test/Zone", tzif_file({}, {{3600, false, "TST"}}, "TST-1"));
  TimeZoneDatabase db(dir.path());
  auto first = db.locate("Test/Zone");
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::filesystem::remove(dir.path() / "Test/Zone");
  auto again = db.locate("Test/Zone");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first.value().get(), again.value().get());
  EXPECT_FALSE(db.locate("Europe/Berlin").ok());  // only this directory
}

TEST(TimeZone, RefusesBadTzifFiles) {
  const std::string good = tzif_file({{0, 0}}, {{3600, false, "ABC"}}, "ABC-1");
  struct Case {
    std::string name;
    std::string data;
    std::string error;
  };
  const Case cases[] = {
      {"empty", "", "not a TZif file"},
      {"text", "Europe/Berlin is not this", "not a TZif file"},
      {"v1", tzif_file({}, {{0, false, "UTC"}}, "", '\0'),
       "TZif version 1 file (no 64-bit data) is not supported"},
      {"version", tzif_file({}, {{0, false, "UTC"}}, "", '1'), "unknown TZif version"},
      {"cut-v2-header", good.substr(0, 60), "truncated TZif file (no version 2 header)"},
      {"cut-v2-data", good.substr(0, good.size() - 12), "truncated TZif file (version 2 data)"},
      {"leap", tzif_file({}, {{0, false, "UTC"}}, "UTC0", '2', 2),
       "zones with leap seconds (right/...) are not supported"},
      {"no-footer", good.substr(0, good.size() - 7), "bad TZif file: no footer"},
      {"open-footer", good.substr(0, good.size() - 1), "bad TZif file: unterminated footer"},
      {"bad-footer", tzif_file({}, {{0, false, "UTC"}}, "U0"),
       "bad TZif footer: POSIX TZ rule \"U0\": expected a standard-time name (3+ letters or "
       "<...>) first"},
      {"type-index", tzif_file({{0, 1}}, {{0, false, "UTC"}}, "UTC0"),
       "bad TZif file: transition type index out of range"},
      {"order", tzif_file({{100, 0}, {100, 0}}, {{0, false, "UTC"}}, "UTC0"),
       "bad TZif file: transition times not in ascending order"},
      {"offset", tzif_file({}, {{100000, false, "BIG"}}, ""),
       "bad TZif file: UTC offset out of range"},
  };
  for (const auto& c : cases) {
    auto z = TimeZone::from_tzif(c.name, c.data);
    ASSERT_FALSE(z.ok()) << c.name;
    EXPECT_EQ(z.error().message, "time zone \"" + c.name + "\": " + c.error);
  }
  EXPECT_TRUE(TimeZone::from_tzif("good", good).ok());
}

TEST(TimeZone, EmptyFooterKeepsTheLastType) {
  auto z = TimeZone::from_tzif(
      "x", tzif_file({{0, 1}}, {{1234, false, "LMT"}, {3600, false, "ABC"}}, ""));
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_EQ(describe(z->info(utc("1969-12-31T00:00Z"))), "min 1970-01-01T00:00:00Z 1234 std LMT");
  EXPECT_EQ(describe(z->info(utc("2040-01-01T00:00Z"))), "1970-01-01T00:00:00Z max 3600 std ABC");
}

TEST(TimeZone, FooterAloneGivesEveryYear) {
  auto z =
      TimeZone::from_tzif("x", tzif_file({}, {{-18000, false, "EST"}}, "EST5EDT,M3.2.0,M11.1.0"));
  ASSERT_TRUE(z.ok()) << z.error().message;
  EXPECT_EQ(describe(z->info(utc("2026-07-01T00:00Z"))),
            "2026-03-08T07:00:00Z 2026-11-01T06:00:00Z -14400 dst EDT");
  EXPECT_EQ(describe(z->info(utc("2026-12-01T00:00Z"))),
            "2026-11-01T06:00:00Z 2027-03-14T07:00:00Z -18000 std EST");
}

class SystemZones : public ::testing::Test {
 protected:
  TimeZoneDatabase db_;
};

TEST_F(SystemZones, BerlinOffsetsAndTransitions) {
  const auto berlin = zone(db_, "Europe/Berlin");
  EXPECT_EQ(describe(berlin->info(utc("2026-07-01T12:00Z"))),
            "2026-03-29T01:00:00Z 2026-10-25T01:00:00Z 7200 dst CEST");
  EXPECT_EQ(describe(berlin->info(utc("2026-01-15T12:00Z"))),
            "2025-10-26T01:00:00Z 2026-03-29T01:00:00Z 3600 std CET");
  // The instant of a transition belongs to the new offset.
  EXPECT_EQ(berlin->info(utc("2026-03-29T01:00:00Z")).abbreviation, "CEST");
  EXPECT_EQ(berlin->info(utc("2026-03-29T00:59:59Z")).abbreviation, "CET");
  // Before the first transition: local mean time.
  EXPECT_EQ(berlin->info(utc("1850-01-01T00:00Z")).offset, seconds{3208});
  EXPECT_EQ(berlin->info(utc("1850-01-01T00:00Z")).abbreviation, "LMT");
  EXPECT_EQ(berlin->to_local(utc("2026-07-01T12:00Z")), local("2026-07-01T14:00"));
}

// Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC, and on 2026-10-25
// 03:00 CEST becomes 02:00 CET at 01:00 UTC: 02:30 does not exist in March, occurs twice in
// October (00:30 and 01:30 UTC).
TEST_F(SystemZones, BerlinGapAndOverlap) {
  const auto berlin = zone(db_, "Europe/Berlin");
  struct Case {
    std::string local;
    std::string resolved;
  };
  const Case cases[] = {
      {"2026-03-29T01:59:59", "unique 2026-03-29T00:59:59Z 2026-03-29T00:59:59Z CET->CET"},
      {"2026-03-29T02:00", "gap 2026-03-29T01:00:00Z 2026-03-29T01:00:00Z CET->CEST"},
      {"2026-03-29T02:30", "gap 2026-03-29T01:00:00Z 2026-03-29T01:00:00Z CET->CEST"},
      {"2026-03-29T02:59:59", "gap 2026-03-29T01:00:00Z 2026-03-29T01:00:00Z CET->CEST"},
      {"2026-03-29T03:00", "unique 2026-03-29T01:00:00Z 2026-03-29T01:00:00Z CEST->CEST"},
      {"2026-10-25T01:59:59", "unique 2026-10-24T23:59:59Z 2026-10-24T23:59:59Z CEST->CEST"},
      {"2026-10-25T02:00", "overlap 2026-10-25T00:00:00Z 2026-10-25T01:00:00Z CEST->CET"},
      {"2026-10-25T02:30", "overlap 2026-10-25T00:30:00Z 2026-10-25T01:30:00Z CEST->CET"},
      {"2026-10-25T02:59:59", "overlap 2026-10-25T00:59:59Z 2026-10-25T01:59:59Z CEST->CET"},
      {"2026-10-25T03:00", "unique 2026-10-25T02:00:00Z 2026-10-25T02:00:00Z CET->CET"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(describe(berlin->resolve(local(c.local))), c.resolved) << c.local;
  }
}

// America/New_York, 2026: 02:00 EST -> 03:00 EDT on 03-08 at 07:00 UTC; 02:00 EDT -> 01:00 EST
// on 11-01 at 06:00 UTC.
TEST_F(SystemZones, NewYorkGapAndOverlap) {
  const auto ny = zone(db_, "America/New_York");
  EXPECT_EQ(describe(ny->resolve(local("2026-03-08T02:30"))),
            "gap 2026-03-08T07:00:00Z 2026-03-08T07:00:00Z EST->EDT");
  EXPECT_EQ(describe(ny->resolve(local("2026-11-01T01:30"))),
            "overlap 2026-11-01T05:30:00Z 2026-11-01T06:30:00Z EDT->EST");
  EXPECT_EQ(describe(ny->info(utc("2026-11-01T05:59:59Z"))),
            "2026-03-08T07:00:00Z 2026-11-01T06:00:00Z -14400 dst EDT");
  EXPECT_EQ(describe(ny->info(utc("2026-11-01T06:00:00Z"))),
            "2026-11-01T06:00:00Z 2027-03-14T07:00:00Z -18000 std EST");
}

TEST_F(SystemZones, KolkataIsHalfAnHourOff) {
  const auto kolkata = zone(db_, "Asia/Kolkata");
  const ZoneInfo z = kolkata->info(utc("2026-07-01T00:00Z"));
  EXPECT_EQ(z.offset, hours{5} + minutes{30});
  EXPECT_EQ(z.abbreviation, "IST");
  EXPECT_FALSE(z.is_dst);
  EXPECT_EQ(describe(kolkata->resolve(local("2026-07-01T09:00"))),
            "unique 2026-07-01T03:30:00Z 2026-07-01T03:30:00Z IST->IST");
  EXPECT_EQ(offset_text(kolkata->info(utc("2040-07-01T00:00Z"))), "19800 std IST");
}

// Lord Howe Island: +10:30, and +11 in summer: a 30-minute gap (02:00-02:30 on the first
// Sunday of October) and overlap (01:30-02:00 on the first Sunday of April).
TEST_F(SystemZones, LordHoweHasHalfHourDaylightSaving) {
  if (!std::filesystem::exists(std::filesystem::path(kSystemZoneDirectory) / "Australia/Lord_Howe"))
    GTEST_SKIP() << "no Australia/Lord_Howe on this machine";
  const auto lh = zone(db_, "Australia/Lord_Howe");
  EXPECT_EQ(describe(lh->info(utc("2026-07-01T00:00Z"))),
            "2026-04-04T15:00:00Z 2026-10-03T15:30:00Z 37800 std +1030");
  EXPECT_EQ(describe(lh->resolve(local("2026-10-04T02:15"))),
            "gap 2026-10-03T15:30:00Z 2026-10-03T15:30:00Z +1030->+11");
  EXPECT_EQ(describe(lh->resolve(local("2026-04-05T01:45"))),
            "overlap 2026-04-04T14:45:00Z 2026-04-04T15:15:00Z +11->+1030");
  EXPECT_EQ(describe(lh->resolve(local("2040-10-07T02:15"))),
            "gap 2040-10-06T15:30:00Z 2040-10-06T15:30:00Z +1030->+11");
}

// The files list transitions up to 2037; later ones come from the footer rule.
TEST_F(SystemZones, BeyondTheLastTransitionTheFooterRules) {
  const auto berlin = zone(db_, "Europe/Berlin");
  EXPECT_EQ(describe(berlin->info(utc("2037-12-01T00:00Z"))),
            "2037-10-25T01:00:00Z 2038-03-28T01:00:00Z 3600 std CET");
  EXPECT_EQ(describe(berlin->info(utc("2040-07-01T00:00Z"))),
            "2040-03-25T01:00:00Z 2040-10-28T01:00:00Z 7200 dst CEST");
  EXPECT_EQ(describe(berlin->resolve(local("2040-03-25T02:30"))),
            "gap 2040-03-25T01:00:00Z 2040-03-25T01:00:00Z CET->CEST");
  EXPECT_EQ(describe(berlin->resolve(local("2040-10-28T02:30"))),
            "overlap 2040-10-28T00:30:00Z 2040-10-28T01:30:00Z CEST->CET");
  const auto ny = zone(db_, "America/New_York");
  EXPECT_EQ(describe(ny->info(utc("2040-07-01T00:00Z"))),
            "2040-03-11T07:00:00Z 2040-11-04T06:00:00Z -14400 dst EDT");
  EXPECT_EQ(describe(ny->resolve(local("2040-11-04T01:30"))),
            "overlap 2040-11-04T05:30:00Z 2040-11-04T06:30:00Z EDT->EST");
  EXPECT_EQ(offset_text(berlin->info(utc("9999-07-01T00:00Z"))), "7200 dst CEST");
  EXPECT_EQ(offset_text(berlin->info(utc("9999-12-01T00:00Z"))), "3600 std CET");
}

}  // namespace
}  // namespace kubefn::schedule
