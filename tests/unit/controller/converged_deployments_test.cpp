#include "kubefn/platform/kubernetes/converged_deployments.hpp"

#include <gtest/gtest.h>

namespace kubefn::platform::kubernetes {
namespace {

TEST(ConvergedDeployments, MatchesOnlyTheRememberedGenerationAndWant) {
  ConvergedDeployments c;
  EXPECT_FALSE(c.matches("ns/a", 1, "h1"));  // unknown: compare the whole object
  c.remember("ns/a", 3, "h1");
  EXPECT_TRUE(c.matches("ns/a", 3, "h1"));
  EXPECT_FALSE(c.matches("ns/a", 4, "h1")) << "someone changed the Deployment's spec";
  EXPECT_FALSE(c.matches("ns/a", 3, "h2")) << "the Function now wants something else";
  EXPECT_FALSE(c.matches("ns/b", 3, "h1"));
  c.remember("ns/a", 4, "h2");
  EXPECT_TRUE(c.matches("ns/a", 4, "h2"));
  EXPECT_EQ(c.size(), 1u);
  c.forget("ns/a");
  EXPECT_FALSE(c.matches("ns/a", 4, "h2"));
  EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace kubefn::platform::kubernetes
