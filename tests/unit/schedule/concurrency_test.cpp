#include "kubefn/schedule/concurrency.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kubefn::schedule {
namespace {

TEST(ConcurrencyPolicy, ParsesExactlyCronJobsWords) {
  for (const char* bad : {"", "allow", "FORBID", "replace", "Allow ", " Forbid", "Skip"}) {
    auto p = parse_concurrency_policy(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().message,
              "concurrencyPolicy \"" + std::string(bad) +
                  "\": must be one of Allow, Forbid, Replace (spelt exactly so)");
  }
  for (ConcurrencyPolicy p :
       {ConcurrencyPolicy::kAllow, ConcurrencyPolicy::kForbid, ConcurrencyPolicy::kReplace}) {
    auto back = parse_concurrency_policy(to_string(p));
    ASSERT_TRUE(back.ok()) << to_string(p);
    EXPECT_EQ(back.value(), p);
  }
}

TEST(ConcurrencyPolicy, DecidesWhatADueRunDoes) {
  struct Case {
    ConcurrencyPolicy policy;
    bool in_flight;
    RunAction action;
  };
  const Case cases[] = {
      {ConcurrencyPolicy::kForbid, true, RunAction::kSkip},
      {ConcurrencyPolicy::kReplace, true, RunAction::kReplace},
      {ConcurrencyPolicy::kAllow, true, RunAction::kStart},
      {ConcurrencyPolicy::kForbid, false, RunAction::kStart},
      {ConcurrencyPolicy::kReplace, false, RunAction::kStart},
      {ConcurrencyPolicy::kAllow, false, RunAction::kStart},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(decide_run(c.policy, c.in_flight), c.action)
        << to_string(c.policy) << " in flight " << c.in_flight << ": "
        << to_string(decide_run(c.policy, c.in_flight));
  }
}

}  // namespace
}  // namespace kubefn::schedule
