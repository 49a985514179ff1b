// Pod status in, condition reason and message out: what the kubelet and the scheduler say about
// a Function's replicas (and a build's pod), as the user reads it in the Function's
// conditions. A row per status a real node reports.
#include "kubefn/platform/kubernetes/pod_problems.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace kubefn::platform::kubernetes {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

constexpr const char* kImage = "registry.test/fn:1";

// A replica as a kubelet reports it: one "function" container with `status` (a
// containerStatus without its name), and `conditions` when given.
json replica(const std::string& name, json status, json conditions = json::array(),
             const std::string& image = kImage) {
  status["name"] = "function";
  json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", "default"},
        {"uid", "uid-" + name},
        {"labels", {{"kubefn.dev/function", "hello"}}}}},
      {"spec",
       {{"containers", json::array({{{"name", "function"},
                                     {"image", image},
                                     {"resources", {{"limits", {{"memory", "128Mi"}}}}}}})}}},
      {"status", {{"phase", "Running"}, {"containerStatuses", json::array({status})}}}};
  if (!conditions.empty()) pod["status"]["conditions"] = conditions;
  return pod;
}

json waiting(const std::string& reason, const std::string& message, int restarts = 0,
             json last = nullptr) {
  json s = {{"ready", false},
            {"restartCount", restarts},
            {"image", kImage},
            {"state", {{"waiting", {{"reason", reason}, {"message", message}}}}}};
  if (!last.is_null()) s["lastState"] = {{"terminated", last}};
  return s;
}

json exited(int code, const std::string& reason = "Error") {
  return {{"exitCode", code},
          {"reason", reason},
          {"containerID", "containerd://abc" + std::to_string(code)}};
}

json crash_loop(int code, int restarts, const std::string& reason = "Error") {
  return waiting("CrashLoopBackOff",
                 "back-off 40s restarting failed container=function pod=hello-7d9-abc", restarts,
                 exited(code, reason));
}

const json kUnschedulable = json::array({{{"type", "PodScheduled"},
                                          {"status", "False"},
                                          {"reason", "Unschedulable"},
                                          {"message",
                                           "0/3 nodes are available: 3 Insufficient memory. "
                                           "preemption: 0/3 nodes are available."}}});

json pending_unschedulable(const std::string& name) {
  json pod = replica(name, json::object(), kUnschedulable);
  pod["status"] = {{"phase", "Pending"}, {"conditions", kUnschedulable}};
  return pod;
}

struct Row {
  const char* name;
  std::vector<json> pods;
  PodScope::Kind kind;
  std::string reason;  // empty: no problem
  Strings says;        // in the message, with the log "boom"
  bool crashed = false;
  bool previous = false;
};

void PrintTo(const Row& row, std::ostream* os) {
  *os << row.name;
}

class PodProblems : public ::testing::TestWithParam<Row> {};

TEST_P(PodProblems, Row) {
  const Row& row = GetParam();
  PodScope scope;
  scope.kind = row.kind;
  if (row.kind == PodScope::Kind::kBuild) {
    scope.container = "build";
    scope.user_image = false;
  } else {
    scope.image = kImage;
  }
  std::vector<json> pods = row.pods;
  if (row.kind == PodScope::Kind::kBuild) {
    for (auto& p : pods) {
      p["spec"]["containers"][0]["name"] = "build";
      p["status"]["containerStatuses"][0]["name"] = "build";
    }
  }
  const auto problem = find_pod_problem(pods, scope);
  if (row.reason.empty()) {
    EXPECT_FALSE(problem.has_value()) << problem->summary;
    return;
  }
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->reason, row.reason);
  EXPECT_EQ(problem->crashed, row.crashed);
  if (row.crashed) {
    EXPECT_EQ(problem->previous, row.previous);
  }
  const std::string message =
      problem_message(*problem, row.crashed ? std::optional<std::string>("boom") : std::nullopt);
  for (const auto& want : row.says) {
    EXPECT_NE(message.find(want), std::string::npos) << "\"" << want << "\" not in: " << message;
  }
  EXPECT_LE(message.size(), kMaxProblemMessageBytes);
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, PodProblems,
    ::testing::Values(
        // Crashes: the exit, the restarts, the log, and what to do.
        Row{"crash_loop_segfault",
            {replica("hello-7d9-abc", crash_loop(139, 3))},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"replica hello-7d9-abc exited with code 139 (SIGSEGV), restarted 3 times; last log "
             "lines: boom; fix the handler and kubectl apply again"},
            true,
            true},
        Row{"crash_loop_once_exit_1",
            {replica("hello-1", crash_loop(1, 1))},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"exited with code 1, restarted once"},
            true,
            true},
        Row{"abort",
            {replica("hello-1", crash_loop(134, 2))},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"exited with code 134 (SIGABRT), restarted 2 times"},
            true,
            true},
        Row{"out_of_memory",
            {replica("hello-1", crash_loop(137, 4, "OOMKilled"))},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"was killed for using more memory than its limit of 128Mi (OOMKilled, exit code 137)",
             "raise spec.resources.limits.memory"},
            true,
            true},
        Row{"killed_by_a_signal_the_runtime_reported",
            {replica("hello-1", waiting("CrashLoopBackOff", "", 2,
                                        {{"exitCode", 0}, {"signal", 11}, {"reason", "Error"}}))},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"was killed by signal 11 (SIGSEGV)"},
            true,
            true},
        Row{"termination_message",
            {replica("hello-1",
                     waiting("CrashLoopBackOff", "", 1,
                             {{"exitCode", 2}, {"reason", "Error"}, {"message", "bad FUNC_PORT"}}))},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"exited with code 2, restarted once (termination message: bad FUNC_PORT)"},
            true,
            true},
        // Between two tries: the crashed instance is the current one.
        Row{"terminated_non_zero_after_restarts",
            {replica("hello-1", {{"ready", false},
                                 {"restartCount", 2},
                                 {"state", {{"terminated", exited(139)}}}})},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"exited with code 139 (SIGSEGV), restarted 2 times"},
            true,
            false},
        // Running again and not ready yet: still the crash, so a look between two crashes does
        // not flip the condition back and forth.
        Row{"running_not_ready_after_a_crash",
            {replica("hello-1", {{"ready", false},
                                 {"restartCount", 5},
                                 {"state", {{"running", {{"startedAt", "2026-01-01T00:00:00Z"}}}}},
                                 {"lastState", {{"terminated", exited(139)}}}})},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"restarted 5 times"},
            true,
            true},
        // A container that never started is the image's fault: containerd's StartError.
        Row{"start_error",
            {replica("hello-1",
                     waiting("CrashLoopBackOff", "", 3,
                             {{"exitCode", 128},
                              {"reason", "StartError"},
                              {"message",
                               "failed to create containerd task: exec format error: unknown"}}))},
            PodScope::Kind::kReplica,
            "RunContainerError",
            {"replica hello-1 cannot start its container (StartError: failed to create "
             "containerd task: exec format error: unknown)",
             "check that spec.image is a kubefn function image",
             "architecture"}},
        // Images that cannot be pulled.
        Row{"image_pull_back_off",
            {replica("hello-1", waiting("ImagePullBackOff",
                                        "Back-off pulling image \"registry.test/fn:1\"", 0))},
            PodScope::Kind::kReplica,
            "ImagePullBackOff",
            {"replica hello-1 cannot pull image \"registry.test/fn:1\" (ImagePullBackOff: "
             "Back-off pulling image \"registry.test/fn:1\")",
             "check spec.image", "imagePullSecrets"}},
        Row{"err_image_pull_is_image_pull_back_off",
            {replica("hello-1",
                     waiting("ErrImagePull",
                             "failed to pull and unpack image \"registry.test/fn:1\": not found",
                             0))},
            PodScope::Kind::kReplica,
            "ImagePullBackOff",
            {"(ErrImagePull: failed to pull and unpack image \"registry.test/fn:1\": not found)"}},
        Row{"invalid_image_name",
            {replica("hello-1",
                     waiting("InvalidImageName",
                             "Failed to apply default image tag \"registry.test/fn:1\": couldn't "
                             "parse image name",
                             0))},
            PodScope::Kind::kReplica,
            "InvalidImageName",
            {"is not a valid image reference", "fix spec.image"}},
        // Containers that cannot be created or started.
        Row{"config_error",
            {replica("hello-1", waiting("CreateContainerConfigError", "secret \"db\" not found"))},
            PodScope::Kind::kReplica,
            "CreateContainerConfigError",
            {"replica hello-1 cannot be started (CreateContainerConfigError: secret \"db\" not "
             "found)",
             "spec.env"}},
        Row{"create_container_error",
            {replica("hello-1", waiting("CreateContainerError", "no command specified"))},
            PodScope::Kind::kReplica,
            "CreateContainerError",
            {"cannot create its container (CreateContainerError: no command specified)"}},
        Row{"run_container_error",
            {replica("hello-1", waiting("RunContainerError", "exec format error"))},
            PodScope::Kind::kReplica,
            "RunContainerError",
            {"cannot start its container (RunContainerError: exec format error)"}},
        // The scheduler.
        Row{"unschedulable",
            {pending_unschedulable("hello-1")},
            PodScope::Kind::kReplica,
            "Unschedulable",
            {"replica hello-1 cannot be scheduled: 0/3 nodes are available: 3 Insufficient memory.",
             "lower spec.resources.requests"}},
        // Nothing to blame (yet).
        Row{"still_creating",
            {replica("hello-1", waiting("ContainerCreating", ""))},
            PodScope::Kind::kReplica,
            "",
            {}},
        Row{"running_and_ready",
            {replica("hello-1", {{"ready", true},
                                 {"restartCount", 2},
                                 {"state", {{"running", json::object()}}},
                                 {"lastState", {{"terminated", exited(139)}}}})},
            PodScope::Kind::kReplica,
            "",
            {}},
        Row{"first_exit_not_restarted_yet",
            {replica("hello-1", {{"ready", false},
                                 {"restartCount", 0},
                                 {"state", {{"terminated", exited(1)}}}})},
            PodScope::Kind::kReplica,
            "",
            {}},
        Row{"no_pods", {}, PodScope::Kind::kReplica, "", {}},
        // Pods of an earlier template, and pods on their way out, are not looked at.
        Row{"other_image",
            {replica("hello-old", crash_loop(139, 3), json::array(), "registry.test/fn:0")},
            PodScope::Kind::kReplica,
            "",
            {}},
        Row{"being_deleted",
            {[] {
              json p = replica("hello-1", crash_loop(139, 3));
              p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
              return p;
            }()},
            PodScope::Kind::kReplica,
            "",
            {}},
        // Several pods: the most blocking first, then by name.
        Row{"image_before_crash_before_scheduling",
            {pending_unschedulable("hello-a"), replica("hello-b", crash_loop(1, 1)),
             replica("hello-c", waiting("ImagePullBackOff", "Back-off"))},
            PodScope::Kind::kReplica,
            "ImagePullBackOff",
            {"replica hello-c"}},
        Row{"first_by_name",
            {replica("hello-b", crash_loop(1, 1)), replica("hello-a", crash_loop(139, 2))},
            PodScope::Kind::kReplica,
            "CrashLoopBackOff",
            {"replica hello-a exited with code 139"},
            true,
            true},
        // A build Job's pod.
        Row{"builder_image_cannot_be_pulled",
            {replica("hello-build-1-x", waiting("ImagePullBackOff",
                                                "Back-off pulling image \"registry.test/fn:1\""))},
            PodScope::Kind::kBuild,
            "ImagePullBackOff",
            {"build pod hello-build-1-x cannot pull the builder image \"registry.test/fn:1\"",
             "--builder-image"}},
        Row{"build_unschedulable",
            {[] {
              json p = pending_unschedulable("hello-build-1-x");
              p["status"]["containerStatuses"] = json::array({{{"name", "build"}}});
              return p;
            }()},
            PodScope::Kind::kBuild,
            "Unschedulable",
            {"build pod hello-build-1-x cannot be scheduled", "the build's requests"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(PodProblems, ABuiltImageThatCannotBePulledPointsAtTheOperatorsRegistry) {
  PodScope scope;
  scope.image = kImage;
  scope.user_image = false;
  auto p = find_pod_problem({replica("hello-1", waiting("ImagePullBackOff", "Back-off"))}, scope);
  ASSERT_TRUE(p.has_value());
  EXPECT_NE(p->advice.find("operator's --registry"), std::string::npos) << p->advice;
}

TEST(PodProblems, ACrashedInstanceIsNamedSoItsLogIsReadOnce) {
  PodScope scope;
  scope.image = kImage;
  auto three = find_pod_problem({replica("hello-1", crash_loop(139, 3))}, scope);
  auto again = find_pod_problem({replica("hello-1", crash_loop(139, 3))}, scope);
  json later = crash_loop(139, 4);
  later["lastState"]["terminated"]["containerID"] = "containerd://def";
  auto four = find_pod_problem({replica("hello-1", later)}, scope);
  ASSERT_TRUE(three && again && four);
  EXPECT_EQ(three->instance, again->instance);
  EXPECT_NE(three->instance, four->instance);
}

TEST(LogTail, KeepsTheLastLinesOnOneLine) {
  EXPECT_EQ(log_tail("one\ntwo\nthree\n", 2, 100), "two | three");
  EXPECT_EQ(log_tail("one\n\n  \ntwo", 5, 100), "one | two");
  EXPECT_EQ(log_tail("", 5, 100), "");
  EXPECT_EQ(log_tail("\n\n", 5, 100), "");
}

TEST(LogTail, ShowsTheRuntimesJsonLinesAsTheirMessage) {
  const std::string log =
      R"({"ts":"2026-01-01T00:00:00Z","level":"info","msg":"listening","port":8080})"
      "\n"
      R"({"ts":"2026-01-01T00:00:01Z","level":"error","msg":"cannot load hello.so","error":"undefined symbol: _Z3foov"})"
      "\n"
      "Segmentation fault (core dumped)\n";
  EXPECT_EQ(log_tail(log, 5, 500),
            "listening | cannot load hello.so: undefined symbol: _Z3foov | Segmentation fault "
            "(core dumped)");
  // JSON that is not a log line stays as it is.
  EXPECT_EQ(log_tail(R"({"a":1})", 5, 100), R"({"a":1})");
}

TEST(LogTail, DropsControlCharactersAndEscapesAndRepairsUtf8) {
  EXPECT_EQ(log_tail("\x1b[31mred\x1b[0m\tand\x07 bell\r\n", 5, 100), "red and bell");
  const std::string bad = "ok \xff\xfe caf\xc3\xa9 \xe2\x82";
  const std::string shown = log_tail(bad, 5, 100);
  EXPECT_EQ(shown, "ok ?? caf\xc3\xa9 ??");
  EXPECT_NO_THROW((void)json(shown).dump());
}

TEST(LogTail, CutsTheOldestPartAtACharacterBoundary) {
  std::string log;
  for (int i = 0; i < 5; ++i)
    log += std::string(200, static_cast<char>('a' + i)) + "\n";
  const std::string tail = log_tail(log, 5, 100);
  EXPECT_LE(tail.size(), 100u);
  EXPECT_EQ(tail.substr(0, 3), "...");
  EXPECT_EQ(tail.back(), 'e') << "the newest line is kept";
  // Multi-byte characters are not split.
  std::string wide;
  for (int i = 0; i < 100; ++i)
    wide += "\xc3\xa9";
  const std::string cut = log_tail(wide, 5, 50);
  EXPECT_LE(cut.size(), 50u);
  EXPECT_NO_THROW((void)json(cut).dump());
  EXPECT_EQ(cut.substr(3, 2), "\xc3\xa9");
}

TEST(ProblemMessage, StaysWithinOneKibibyteWhateverTheLogAndTheKubeletSay) {
  PodScope scope;
  scope.image = kImage;
  json last = exited(139);
  last["message"] = std::string(5000, 'm');
  auto p = find_pod_problem({replica("hello-1", waiting("CrashLoopBackOff", "", 3, last))}, scope);
  ASSERT_TRUE(p.has_value());
  const std::string lines = log_tail(std::string(20000, 'x') + "\nthe last line", 10, 4000);
  const std::string m = problem_message(*p, lines, {}, "the previous replicas keep serving");
  EXPECT_LE(m.size(), kMaxProblemMessageBytes);
  EXPECT_NE(m.find("exited with code 139 (SIGSEGV)"), std::string::npos) << m;
  EXPECT_NE(m.find("the last line"), std::string::npos) << "the newest log line is kept: " << m;
  EXPECT_NE(m.find("fix the handler and kubectl apply again"), std::string::npos) << m;
  EXPECT_NE(m.find("the previous replicas keep serving"), std::string::npos) << m;

  auto pull = find_pod_problem(
      {replica("hello-1", waiting("ErrImagePull", std::string(100000, 'e')))}, scope);
  ASSERT_TRUE(pull.has_value());
  const std::string pm = problem_message(*pull, std::nullopt);
  EXPECT_LE(pm.size(), kMaxProblemMessageBytes);
  EXPECT_NE(pm.find("check spec.image"), std::string::npos) << pm;
}

TEST(ProblemMessage, SaysWhenTheLogIsEmptyOrCouldNotBeRead) {
  PodScope scope;
  scope.image = kImage;
  auto p = find_pod_problem({replica("hello-1", crash_loop(1, 1))}, scope);
  ASSERT_TRUE(p.has_value());
  EXPECT_NE(problem_message(*p, std::string()).find("; it logged nothing; "), std::string::npos);
  const std::string m =
      problem_message(*p, std::nullopt, "its log could not be read (Forbidden): kubectl logs x");
  EXPECT_NE(m.find("; its log could not be read (Forbidden): kubectl logs x; fix the handler"),
            std::string::npos)
      << m;
}

}  // namespace
}  // namespace kubefn::platform::kubernetes
