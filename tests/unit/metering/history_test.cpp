#include "kubefn/metering/history.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::metering {
namespace {

Totals hello(std::uint64_t calls, std::string name = "hello") {
  Totals t;
  t.ns = "default";
  t.name = std::move(name);
  t.invocations[0] = calls;
  t.latency_buckets.fill(calls);
  t.billed_seconds = 0.001 * static_cast<double>(calls);
  t.replicas.idle_seconds = static_cast<double>(calls);
  t.cost_idle = 0.0001 * static_cast<double>(calls);
  return t;
}

Sample at(std::int64_t t, std::vector<Totals> functions) {
  Sample s;
  s.unix_seconds = t;
  s.functions = std::move(functions);
  return s;
}

std::size_t line_count(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);)
    n += !line.empty();
  return n;
}

TEST(History, SurvivesAReopen) {
  testing::TempDir dir;
  const auto path = dir.path() / "state" / "metering.jsonl";
  {
    History h(path);
    EXPECT_FALSE(h.last().has_value());
    EXPECT_TRUE(std::filesystem::exists(path));
    h.append(at(100, {hello(1)}));
    h.append(at(110, {hello(2), hello(5, "world")}));
  }
  History h(path);
  ASSERT_TRUE(h.last().has_value());
  EXPECT_EQ(h.last()->unix_seconds, 110);
  ASSERT_EQ(h.last()->functions.size(), 2u);
  EXPECT_EQ(to_json(h.last()->functions[1]), to_json(hello(5, "world")));
  const auto all = h.since(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].unix_seconds, 100);
  EXPECT_EQ(to_json(all[0]), to_json(at(100, {hello(1)})));
  EXPECT_EQ(h.skipped_lines(), 0u);

  // Each line is {"t":..., "functions":[to_json(Totals)...]}.
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  const auto j = nlohmann::json::parse(first);
  EXPECT_EQ(j["t"], 100);
  EXPECT_EQ(j["functions"][0], to_json(hello(1)));
}

TEST(History, ATornLastLineIsIgnoredAndCutBeforeTheNextAppend) {
  testing::TempDir dir;
  const auto path = dir.path() / "metering.jsonl";
  {
    History h(path);
    h.append(at(100, {hello(1)}));
  }
  {
    std::ofstream out(path, std::ios::app);
    out << R"({"t":110,"functions":[{"namespace":"default","na)";
  }
  {
    History h(path);
    EXPECT_EQ(h.last()->unix_seconds, 100);
    EXPECT_EQ(h.skipped_lines(), 0u);
    h.append(at(120, {hello(3)}));
  }
  History h(path);
  const auto all = h.since(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].unix_seconds, 120);
  EXPECT_EQ(h.skipped_lines(), 0u);
  EXPECT_EQ(line_count(path), 2u);
}

TEST(History, AValidLastLineWithoutItsNewlineIsKept) {
  testing::TempDir dir;
  const auto line = to_json(at(100, {hello(1)})).dump();
  const auto path = dir.write("metering.jsonl", line);  // no "\n"
  {
    History h(path);
    EXPECT_EQ(h.last()->unix_seconds, 100);
    h.append(at(110, {hello(2)}));
  }
  History h(path);
  EXPECT_EQ(h.since(0).size(), 2u);
  EXPECT_EQ(h.skipped_lines(), 0u);
}

TEST(History, AnInvalidLineInTheMiddleIsSkippedAndCounted) {
  testing::TempDir dir;
  const auto path =
      dir.write("metering.jsonl", to_json(at(100, {hello(1)})).dump() + "\nnot json\n" +
                                      R"({"t":"soon","functions":[]})" + "\n\n" +
                                      to_json(at(120, {hello(2)})).dump() + "\n");
  History h(path);
  EXPECT_EQ(h.skipped_lines(), 2u);
  const auto all = h.since(0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].unix_seconds, 120);
}

TEST(History, SinceIncludesTheSampleBefore) {
  testing::TempDir dir;
  History h(dir.path() / "h.jsonl");
  for (std::int64_t t : {100, 110, 120, 130})
    h.append(at(t, {hello(1)}));
  auto s = h.since(115);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].unix_seconds, 110);
  s = h.since(120);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].unix_seconds, 110);
  EXPECT_EQ(h.since(0).size(), 4u);
  EXPECT_EQ(h.since(1000).size(), 1u);  // the last one, as the start
}

TEST(History, CompactionKeepsTheRecentSamples) {
  testing::TempDir dir;
  const auto path = dir.path() / "h.jsonl";
  {
    History h(path, /*keep_seconds=*/100);
    for (std::int64_t t = 0; t <= 300; t += 10)
      h.append(at(t, {hello(static_cast<std::uint64_t>(t))}));
    const auto all = h.since(0);
    EXPECT_LT(all.size(), 31u);
    // Everything not older than kept is there, and one sample before it as a window's start.
    std::size_t old = 0;
    for (const auto& s : all)
      old += s.unix_seconds < 200;
    EXPECT_GE(old, 1u);
    EXPECT_LE(old * 2, all.size() + 1);
    for (std::int64_t t = 200; t <= 300; t += 10) {
      bool found = false;
      for (const auto& s : all)
        found = found || s.unix_seconds == t;
      EXPECT_TRUE(found) << t;
    }
    EXPECT_EQ(line_count(path), all.size());
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
    // A window as long as the one kept still has its start.
    const auto r = h.report(at(300, {hello(300)}), 100, PriceSheet{});
    EXPECT_EQ(r.since_unix, 200);
    EXPECT_EQ(r.functions[0].invocations_total, 100u);
  }
  History reopened(path, 100);
  EXPECT_EQ(reopened.last()->unix_seconds, 300);
  EXPECT_EQ(reopened.skipped_lines(), 0u);
}

TEST(History, SamplesOlderThanSixHoursAreThinnedToOnePerFiveMinutes) {
  testing::TempDir dir;
  const auto path = dir.path() / "h.jsonl";
  History h(path);  // kept a week
  // 13 hours of 10 s samples: compacted once the thinned file would be under half.
  const std::int64_t end = 13 * 3600;
  for (std::int64_t t = 0; t <= end; t += 10)
    h.append(at(t, {hello(static_cast<std::uint64_t>(t))}));
  const auto all = h.since(0);
  const std::size_t appended = static_cast<std::size_t>(end / 10) + 1;
  EXPECT_LT(all.size(), appended / 2 + 300);
  EXPECT_EQ(line_count(path), all.size());
  // The first hours: at most one sample per 5 minutes.
  std::size_t early = 0;
  for (const auto& s : all)
    early += s.unix_seconds < 6 * 3600;
  EXPECT_LE(early, static_cast<std::size_t>(6 * 3600 / History::kCoarseStep) + 1);
  // The last six hours whole.
  for (std::int64_t t = end - History::kFineSeconds; t <= end; t += 10) {
    ASSERT_TRUE(std::any_of(all.begin(), all.end(), [&](const Sample& s) {
      return s.unix_seconds == t;
    })) << t;
  }
  // An old window starts at most one coarse step before its start.
  const auto r = h.report(at(end, {hello(end)}), 10 * 3600, PriceSheet{});
  EXPECT_LE(end - 10 * 3600 - r.since_unix, History::kCoarseStep);
  EXPECT_GE(end - 10 * 3600 - r.since_unix, 0);
}

TEST(History, WindowedReport) {
  testing::TempDir dir;
  History h(dir.path() / "h.jsonl");
  const PriceSheet prices;
  // No samples at all: everything counts, over the window asked.
  auto r = h.report(at(1030, {hello(40)}), 60, prices);
  EXPECT_EQ(r.window_seconds, 60);
  EXPECT_EQ(r.since_unix, 970);
  EXPECT_EQ(r.until_unix, 1030);
  ASSERT_EQ(r.functions.size(), 1u);
  EXPECT_EQ(r.functions[0].invocations_total, 40u);

  h.append(at(1000, {hello(10)}));
  h.append(at(1010, {hello(20)}));
  h.append(at(1020, {hello(30), hello(7, "late")}));
  const Sample now = at(1030, {hello(40), hello(9, "late"), hello(2, "new")});

  // A sample at or before the start: from it.
  r = h.report(now, 15, prices);  // start 1015: the sample at 1010
  EXPECT_EQ(r.since_unix, 1010);
  EXPECT_EQ(r.window_seconds, 20);
  EXPECT_EQ(r.currency, "USD");
  EXPECT_EQ(r.prices, prices);
  ASSERT_EQ(r.functions.size(), 3u);
  EXPECT_EQ(r.functions[0].name, "hello");  // by namespace, then name
  EXPECT_EQ(r.functions[0].invocations_total, 20u);
  EXPECT_DOUBLE_EQ(r.functions[0].billed_seconds, 0.02);
  EXPECT_DOUBLE_EQ(r.functions[0].cost_idle, 0.002);
  EXPECT_EQ(r.functions[0].window_seconds, 20);
  EXPECT_EQ(r.functions[1].name, "late");  // not in the start sample: from zero
  EXPECT_EQ(r.functions[1].invocations_total, 9u);
  EXPECT_EQ(r.functions[2].name, "new");
  EXPECT_EQ(r.functions[2].invocations_total, 2u);

  r = h.report(now, 10, prices);  // start 1020, exactly a sample
  EXPECT_EQ(r.since_unix, 1020);
  EXPECT_EQ(r.window_seconds, 10);
  EXPECT_EQ(r.functions[0].invocations_total, 10u);
  EXPECT_EQ(r.functions[1].invocations_total, 2u);

  // The history is younger than the window: from zero, from the first sample.
  r = h.report(now, 3600, prices);
  EXPECT_EQ(r.since_unix, 1000);
  EXPECT_EQ(r.window_seconds, 30);
  EXPECT_EQ(r.functions[0].invocations_total, 40u);
  EXPECT_DOUBLE_EQ(r.functions[0].always_on_cost,
                   30 * prices.replica_second(0, 0.0));  // idle time only, no cores or memory
}

TEST(History, AppendToAnUnwritableFileThrows) {
  testing::TempDir dir;
  const auto path = dir.path() / "h.jsonl";
  std::filesystem::create_directory(path);  // a folder where the file should be
  History h(path);
  EXPECT_FALSE(h.last().has_value());
  EXPECT_THROW(h.append(at(1, {hello(1)})), std::runtime_error);
}

}  // namespace
}  // namespace kubefn::metering
