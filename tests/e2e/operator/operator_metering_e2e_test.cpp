// Replica metering on the real control plane: the operator (its leader) sees a Function's pods
// made by the real Deployment and ReplicaSet controllers, Ready by kwok, and exports their
// replica seconds on /metrics, recording how far each pod is metered in its checkpoint
// ConfigMap; a restarted operator carries on from the checkpoint. kwok pods run no runtime, so
// they send no stats: their ready time is all idle, their usage their requests.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/metrics_text.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/wait.hpp"
#include "operator_fixture.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;

class OperatorMeteringE2E : public OperatorE2E {};

TEST_P(OperatorMeteringE2E, ReplicaSecondsRiseForARunningFunctionAndSurviveARestart) {
  // The checkpoint lives in the operator's own namespace: here, the test's.
  const std::vector<std::string> flags = {"--lease-namespace", ns()};
  std::unique_ptr<ChildProcess> op;
  std::uint16_t port = start_operator(op, "op", flags);
  ASSERT_NE(port, 0) << operator_log("op");
  ASSERT_EQ(kubectl({"apply", "-f", "-"},
                    function_yaml("hello",
                                  "  handler: hello.greet\n  image: registry.local/hello:1\n"
                                  "  resources:\n    requests: {cpu: 250m, memory: 64Mi}\n"))
                .exit_code,
            0);
  ASSERT_TRUE(eventually_equals("get deploy hello", "{.status.readyReplicas}", "1", seconds(60)))
      << operator_log("op");

  const std::string series = "{namespace=\"" + ns() + "\",function=\"hello\"";
  auto seconds_of = [&](std::uint16_t at, const std::string& state) -> std::optional<double> {
    auto m = http_request(at, "GET", "/metrics");
    if (!m) return std::nullopt;
    return metric_value(
        m->body, "kubefn_function_replica_seconds_total" + series + ",state=\"" + state + "\"}");
  };
  auto lifetime = [&](std::uint16_t at) {
    double sum = 0;
    for (const char* state : {"starting", "busy", "idle"})
      sum += seconds_of(at, state).value_or(0);
    return sum;
  };
  // Accounted every few seconds: ready time is idle, and it rises.
  double first = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        first = seconds_of(port, "idle").value_or(0);
        return first > 0;
      },
      seconds(30), std::chrono::milliseconds(250)))
      << operator_log("op");
  EXPECT_TRUE(wait_until([&] { return seconds_of(port, "idle").value_or(0) > first; }, seconds(30),
                         std::chrono::milliseconds(250)));
  EXPECT_EQ(seconds_of(port, "busy"), 0.0);  // no stats from a kwok pod
  auto m = http_request(port, "GET", "/metrics");
  ASSERT_TRUE(m);
  // Usage is the requests: a quarter core for each of the pod's seconds.
  const double cpu =
      metric_value(m->body, "kubefn_function_cpu_core_seconds_total" + series + "}").value_or(0);
  EXPECT_GT(cpu, 0) << m->body;
  EXPECT_EQ(metric_value(m->body, "kubefn_function_replicas" + series + ",state=\"ready\"}"), 1.0);
  EXPECT_TRUE(metric_value(m->body, "kubefn_price_cpu_core_hour{currency=\"USD\"}").has_value())
      << m->body;
  EXPECT_FALSE(
      metric_value(m->body, "kubefn_function_invocations_total" + series + ",outcome=\"success\"}")
          .has_value());  // the gateway's to export

  // The checkpoint names the pod.
  const std::string uid =
      jsonpath("get pods -l kubefn.dev/function=hello", "{.items[0].metadata.uid}");
  ASSERT_FALSE(uid.empty());
  auto checkpoint = json::parse(jsonpath("get cm kubefn-metering", "{.data.pods}"), nullptr, false);
  ASSERT_TRUE(checkpoint.is_object()) << jsonpath("get cm kubefn-metering", "{.data}");
  EXPECT_TRUE(checkpoint.contains(uid)) << checkpoint.dump();

  // Stopped (its last pass commits), then a new operator: it resumes from the checkpoint, so
  // it counts only what came after, not the pod's whole life again.
  const double before = lifetime(port);
  op->signal(SIGTERM);
  EXPECT_EQ(op->wait_exit(seconds(10)), 0) << operator_log("op");
  std::unique_ptr<ChildProcess> again;
  std::uint16_t port2 = start_operator(again, "again", flags);
  ASSERT_NE(port2, 0) << operator_log("again");
  ASSERT_TRUE(
      wait_until([&] { return lifetime(port2) > 0; }, seconds(30), std::chrono::milliseconds(250)))
      << operator_log("again");
  EXPECT_LT(lifetime(port2), before) << "the second operator counted the first one's time again";
}

// The emulator runs no pods: the real control plane only.
KUBEFN_ON_CLUSTER(OperatorMeteringE2E);

}  // namespace
}  // namespace kubefn::testing
