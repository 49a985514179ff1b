#include "kubefn/kafka/commit_tracker.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace kubefn::kafka {
namespace {

const TopicPartition kP0{"orders", 0};
const TopicPartition kP1{"orders", 1};

// One step of a table: start or finish an offset, with the answer expected, and what is
// committable after it (offsets of kP0; -1: nothing).
struct Step {
  enum Op { kStart, kFinish } op;
  std::int64_t offset;
  bool accepted;
  std::int64_t committable;
};

struct TrackerCase {
  std::string name;
  std::vector<Step> steps;
};

// Names the case in test names and failures (CTest lists GetParam() beside the name).
void PrintTo(const TrackerCase& c, std::ostream* os) {
  *os << c.name;
}

class CommitTrackerTable : public ::testing::TestWithParam<TrackerCase> {};

TEST_P(CommitTrackerTable, CommitsOnlyTheDonePrefix) {
  CommitTracker tracker;
  int i = 0;
  for (const Step& step : GetParam().steps) {
    SCOPED_TRACE("step " + std::to_string(i++) +
                 (step.op == Step::kStart ? " start " : " finish ") + std::to_string(step.offset));
    const bool accepted = step.op == Step::kStart ? tracker.start(kP0, step.offset)
                                                  : tracker.finish(kP0, step.offset);
    EXPECT_EQ(accepted, step.accepted);
    const auto c = tracker.committable();
    if (step.committable < 0) {
      EXPECT_TRUE(c.empty());
    } else {
      ASSERT_EQ(c.size(), 1u);
      EXPECT_EQ(c[0].partition, kP0);
      EXPECT_EQ(c[0].offset, step.committable);
    }
  }
}

using S = Step;
INSTANTIATE_TEST_SUITE_P(
    Cases, CommitTrackerTable,
    ::testing::Values(
        // Bad calls first: nothing is recorded and nothing becomes committable.
        TrackerCase{"FinishNeverStarted", {{S::kFinish, 5, false, -1}}},
        TrackerCase{"NegativeOffset", {{S::kStart, -1, false, -1}}},
        TrackerCase{"StartTwice", {{S::kStart, 5, true, -1}, {S::kStart, 5, false, -1}}},
        TrackerCase{"StartGoingBack", {{S::kStart, 5, true, -1}, {S::kStart, 4, false, -1}}},
        TrackerCase{
            "FinishTwice",
            {{S::kStart, 5, true, -1}, {S::kFinish, 5, true, 6}, {S::kFinish, 5, false, 6}}},
        TrackerCase{
            "FinishUnknownOffsetBetween",
            {{S::kStart, 5, true, -1}, {S::kStart, 7, true, -1}, {S::kFinish, 6, false, -1}}},
        // In order, one at a time.
        TrackerCase{"InOrder",
                    {{S::kStart, 0, true, -1},
                     {S::kFinish, 0, true, 1},
                     {S::kStart, 1, true, 1},
                     {S::kFinish, 1, true, 2}}},
        // Out of order: never past the oldest unfinished message.
        TrackerCase{"LaterDoneFirstWaits",
                    {{S::kStart, 10, true, -1},
                     {S::kStart, 11, true, -1},
                     {S::kStart, 12, true, -1},
                     {S::kFinish, 12, true, -1},
                     {S::kFinish, 11, true, -1},
                     {S::kFinish, 10, true, 13}}},
        TrackerCase{"PrefixGrowsInSteps",
                    {{S::kStart, 0, true, -1},
                     {S::kStart, 1, true, -1},
                     {S::kStart, 2, true, -1},
                     {S::kStart, 3, true, -1},
                     {S::kFinish, 0, true, 1},
                     {S::kFinish, 2, true, 1},
                     {S::kFinish, 1, true, 3},
                     {S::kFinish, 3, true, 4}}},
        // Gaps in the offsets (compaction, transaction markers) are not messages to wait for.
        TrackerCase{"GapsAreSkipped",
                    {{S::kStart, 5, true, -1},
                     {S::kStart, 9, true, -1},
                     {S::kFinish, 9, true, -1},
                     {S::kFinish, 5, true, 10}}},
        TrackerCase{"StartAfterCommittablePrefix",
                    {{S::kStart, 0, true, -1},
                     {S::kFinish, 0, true, 1},
                     {S::kStart, 1, true, 1},
                     {S::kStart, 2, true, 1},
                     {S::kFinish, 2, true, 1}}}),
    [](const auto& info) { return info.param.name; });

TEST(CommitTracker, CommittedOffsetsAreNotOfferedAgain) {
  CommitTracker tracker;
  ASSERT_TRUE(tracker.start(kP0, 0));
  ASSERT_TRUE(tracker.finish(kP0, 0));
  tracker.committed(tracker.committable());
  EXPECT_TRUE(tracker.committable().empty());
  ASSERT_TRUE(tracker.start(kP0, 1));
  ASSERT_TRUE(tracker.finish(kP0, 1));
  EXPECT_EQ(tracker.committable(), (std::vector<PartitionOffset>{{kP0, 2}}));
}

TEST(CommitTracker, AnOlderCommitOutcomeDoesNotGoBack) {
  CommitTracker tracker;
  for (std::int64_t o = 0; o < 3; ++o) {
    ASSERT_TRUE(tracker.start(kP0, o));
    ASSERT_TRUE(tracker.finish(kP0, o));
  }
  tracker.committed({{kP0, 3}});
  tracker.committed({{kP0, 1}});  // a late answer to an earlier async commit
  EXPECT_TRUE(tracker.committable().empty());
}

TEST(CommitTracker, PartitionsAreIndependent) {
  CommitTracker tracker;
  ASSERT_TRUE(tracker.start(kP0, 0));
  ASSERT_TRUE(tracker.start(kP1, 0));
  ASSERT_TRUE(tracker.start(kP1, 1));
  ASSERT_TRUE(tracker.finish(kP1, 1));
  EXPECT_TRUE(tracker.committable().empty());
  ASSERT_TRUE(tracker.finish(kP1, 0));
  EXPECT_EQ(tracker.committable(), (std::vector<PartitionOffset>{{kP1, 2}}));
  ASSERT_TRUE(tracker.finish(kP0, 0));
  EXPECT_EQ(tracker.committable(), (std::vector<PartitionOffset>{{kP0, 1}, {kP1, 2}}));
  EXPECT_EQ(tracker.committable({kP1}), (std::vector<PartitionOffset>{{kP1, 2}}));
  EXPECT_TRUE(tracker.committable({{"other", 0}}).empty());
}

TEST(CommitTracker, ForgottenPartitionsCommitNothingOfTheirInFlight) {
  CommitTracker tracker;
  ASSERT_TRUE(tracker.start(kP0, 0));
  ASSERT_TRUE(tracker.start(kP0, 1));
  ASSERT_TRUE(tracker.start(kP1, 7));
  ASSERT_TRUE(tracker.finish(kP0, 0));
  EXPECT_EQ(tracker.in_flight(), 2u);
  tracker.forget(kP0);                   // revoked
  EXPECT_FALSE(tracker.finish(kP0, 1));  // its message finishes after the revocation
  EXPECT_TRUE(tracker.committable().empty());
  EXPECT_EQ(tracker.in_flight(kP0), 0u);
  EXPECT_EQ(tracker.in_flight(kP1), 1u);
  // Assigned again: it starts afresh, from wherever the group's offset is.
  EXPECT_TRUE(tracker.start(kP0, 1));
  tracker.forget_all();
  EXPECT_EQ(tracker.in_flight(), 0u);
}

TEST(CommitTracker, CommittedOfUntrackedPartitionsIsIgnored) {
  CommitTracker tracker;
  tracker.committed({{kP0, 10}});
  ASSERT_TRUE(tracker.start(kP0, 3));
  ASSERT_TRUE(tracker.finish(kP0, 3));
  EXPECT_EQ(tracker.committable(), (std::vector<PartitionOffset>{{kP0, 4}}));
}

TEST(CommitTracker, InFlightCountsStartedAndNotFinished) {
  CommitTracker tracker;
  ASSERT_TRUE(tracker.start(kP0, 0));
  ASSERT_TRUE(tracker.start(kP0, 1));
  ASSERT_TRUE(tracker.start(kP0, 2));
  ASSERT_TRUE(tracker.finish(kP0, 2));  // done but waiting for 0 and 1: not in flight
  EXPECT_EQ(tracker.in_flight(kP0), 2u);
}

}  // namespace
}  // namespace kubefn::kafka
