#include "kubefn/schedule/event_id.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "schedule_testing.hpp"

namespace kubefn::schedule {
namespace {

using testing::utc;

TEST(RunEventId, IsStableAndReadable) {
  const Instant at = utc("2026-03-29T01:30:00Z");
  const std::string id = run_event_id("default", "hello", "nightly", at);
  // Pinned: other implementations (and later versions) must give the same id for the same run.
  EXPECT_EQ(id, "c55a61ab82f03db8-1774747800");
  EXPECT_EQ(run_event_id("default", "hello", "nightly", at), id);
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}-[0-9]+")));
}

TEST(RunEventId, DiffersForEveryPartOfTheRun) {
  const Instant at = utc("2026-03-29T01:30:00Z");
  const std::set<std::string> ids = {
      run_event_id("default", "hello", "nightly", at),
      run_event_id("other", "hello", "nightly", at),
      run_event_id("default", "world", "nightly", at),
      run_event_id("default", "hello", "hourly", at),
      run_event_id("default", "hello", "nightly", at + std::chrono::seconds{60}),
      // Names are length-prefixed: moving bytes from one to the next is another run.
      run_event_id("defaulth", "ello", "nightly", at),
      run_event_id("default", "hellon", "ightly", at),
      run_event_id("", "", "", at),
  };
  EXPECT_EQ(ids.size(), 8u);
}

}  // namespace
}  // namespace kubefn::schedule
