#include "kubefn/cli/functions.hpp"

#include <gtest/gtest.h>

namespace kubefn::cli {
namespace {

using nlohmann::json;

json function_with(json conditions, int generation = 2, int observed = 2) {
  return {{"metadata",
           {{"name", "hello"},
            {"namespace", "default"},
            {"generation", generation},
            {"creationTimestamp", "2024-01-01T00:00:00Z"}}},
          {"spec", {{"handler", "hello.greet"}, {"image", "r/hello:1"}}},
          {"status",
           {{"observedGeneration", observed},
            {"conditions", conditions},
            {"replicas", 2},
            {"readyReplicas", 1},
            {"url", "http://gw/default/hello"}}}};
}

json cond(const std::string& type, const std::string& status, const std::string& reason,
          const std::string& message = "") {
  return {{"type", type}, {"status", status}, {"reason", reason}, {"message", message}};
}

TEST(Functions, ReadyForTheCurrentGeneration) {
  auto r = readiness(
      function_with({cond("Built", "True", "PrebuiltImage"), cond("Ready", "True", "Ready")}));
  EXPECT_EQ(r.progress, Progress::kReady);
  EXPECT_EQ(r.summary, "Built=True Ready=True");
  // The same status seen for an older generation is not ready yet.
  r = readiness(function_with({cond("Ready", "True", "Ready")}, 3, 2));
  EXPECT_EQ(r.progress, Progress::kWaiting);
}

TEST(Functions, StepsOnTheWayWaitAndProblemsFail) {
  auto r = readiness(function_with({cond("Built", "False", "BuildPending", "waiting"),
                                    cond("Ready", "False", "BuildPending", "waiting")}));
  EXPECT_EQ(r.progress, Progress::kWaiting);
  EXPECT_EQ(r.summary, "Built=False (BuildPending) Ready=False (BuildPending)");
  r = readiness(function_with({cond("Ready", "False", "Deploying")}));
  EXPECT_EQ(r.progress, Progress::kWaiting);
  r = readiness(function_with({cond("Ready", "False", "InvalidHandler", "fix the handler")}));
  EXPECT_EQ(r.progress, Progress::kFailed);
  EXPECT_EQ(r.reason, "InvalidHandler");
  EXPECT_EQ(r.message, "fix the handler");
  r = readiness(function_with({cond("Built", "False", "BuildFailed", "compile error"),
                               cond("Ready", "False", "BuildPending")}));
  EXPECT_EQ(r.progress, Progress::kFailed);
  EXPECT_EQ(r.message, "compile error");
  r = readiness(function_with({cond("Ready", "False", "ScaledToZero")}));
  EXPECT_EQ(r.progress, Progress::kReady);
  r = readiness(json{{"metadata", {{"name", "x"}, {"generation", 1}}}});
  EXPECT_EQ(r.progress, Progress::kWaiting);
  EXPECT_EQ(r.summary, "no status yet");
}

TEST(Functions, ListRow) {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1704067200 + 300));
  auto f = function_with({cond("Ready", "True", "Ready")});
  EXPECT_EQ(list_row(f, false, now),
            (std::vector<std::string>{"hello", "True", "1/2", "http://gw/default/hello", "5m"}));
  EXPECT_EQ(list_row(f, true, now).front(), "default");
  EXPECT_EQ(list_header(true).front(), "NAMESPACE");
  json bare = {{"metadata", {{"name", "b"}}}, {"spec", {{"image", "r/b:1"}}}};
  EXPECT_EQ(list_row(bare, false, now),
            (std::vector<std::string>{"b", "-", "-", "r/b:1", "<unknown>"}));
}

TEST(Functions, DescribeShowsSpecConditionsAndEvents) {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1704067200 + 60));
  auto f = function_with({cond("Ready", "False", "Deploying", "1 of 2 replicas ready")});
  json event = {{"type", "Normal"},
                {"reason", "DeploymentCreated"},
                {"message", "created deployment hello"},
                {"lastTimestamp", "2024-01-01T00:00:30Z"},
                {"count", 2},
                {"source", {{"component", "kubefn-operator"}}}};
  const std::string text = describe_text(f, {event}, now);
  EXPECT_NE(text.find("Name:           hello"), std::string::npos) << text;
  EXPECT_NE(text.find("Handler:        hello.greet"), std::string::npos) << text;
  EXPECT_NE(text.find("Deploying"), std::string::npos) << text;
  EXPECT_NE(text.find("1 of 2 replicas ready"), std::string::npos) << text;
  EXPECT_NE(text.find("DeploymentCreated"), std::string::npos) << text;
  EXPECT_NE(text.find("30s (x2)"), std::string::npos) << text;
  EXPECT_NE(text.find("kubefn-operator"), std::string::npos) << text;

  json bare = {{"metadata", {{"name", "b"}}}, {"spec", {{"handler", "b.c"}}}};
  const std::string empty = describe_text(bare, {}, now);
  EXPECT_NE(empty.find("is the operator running?"), std::string::npos) << empty;
  EXPECT_NE(empty.find("Events:\n  <none>"), std::string::npos) << empty;
}

}  // namespace
}  // namespace kubefn::cli
