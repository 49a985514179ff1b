#include "kubefn/controller/conditions.hpp"

#include <gtest/gtest.h>

namespace kubefn::controller {
namespace {

TEST(Conditions, TransitionTimeMovesOnlyWhenStatusFlips) {
  nlohmann::json status;
  set_condition(status, {"Ready", "False", "Deploying", "waiting"}, "t1", 1);
  EXPECT_EQ(find_condition(status, "Ready")["lastTransitionTime"], "t1");
  set_condition(status, {"Ready", "False", "Deploying", "still waiting"}, "t2", 2);
  EXPECT_EQ(find_condition(status, "Ready")["lastTransitionTime"], "t1");
  EXPECT_EQ(find_condition(status, "Ready")["message"], "still waiting");
  EXPECT_EQ(find_condition(status, "Ready")["observedGeneration"], 2);
  set_condition(status, {"Ready", "True", "Ready", ""}, "t3", 2);
  EXPECT_EQ(find_condition(status, "Ready")["lastTransitionTime"], "t3");
  EXPECT_EQ(status["conditions"].size(), 1u);
}

TEST(Conditions, TypesAreKeptApart) {
  nlohmann::json status;
  set_condition(status, {"SourceReady", "True", "Stored", ""}, "t", 1);
  set_condition(status, {"Ready", "False", "Deploying", ""}, "t", 1);
  EXPECT_EQ(status["conditions"].size(), 2u);
  EXPECT_TRUE(find_condition(status, "Missing").is_null());
}

}  // namespace
}  // namespace kubefn::controller
