// kubefn-operator end to end: the real operator binary against the Kubernetes API emulator and
// against the real control plane (kube-apiserver, its controllers and garbage collector, kwok
// nodes), driven by the pinned kubectl, as a user would.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <regex>
#include <sstream>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/metrics_text.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"
#include "operator_fixture.hpp"

namespace kubefn::testing {
namespace {

TEST_P(OperatorE2E, ApplyGetEditDelete) {
  std::unique_ptr<ChildProcess> op;
  std::uint16_t port = start_operator(op, "op");
  ASSERT_NE(port, 0) << operator_log("op");

  auto applied =
      kubectl({"apply", "-f", "-"},
              function_yaml("hello", "  handler: hello.greet\n  image: registry.local/hello:1\n"));
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_NE(applied.out.find("function.kubefn.dev/hello created"), std::string::npos);

  EXPECT_TRUE(eventually_equals("get deploy hello", "{.spec.template.spec.containers[0].image}",
                                "registry.local/hello:1"))
      << operator_log("op");
  EXPECT_TRUE(eventually_equals("get fn hello", "{.status.conditions[?(@.type==\"Ready\")].status}",
                                "True"))
      << operator_log("op");
  EXPECT_EQ(jsonpath("get svc hello", "{.metadata.ownerReferences[0].kind}"), "Function");

  // The printer columns a user sees.
  auto table = kubectl({"get", "fn"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("READY"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("IMAGE"), std::string::npos) << table.out;
  EXPECT_TRUE(
      std::regex_search(table.out, std::regex("hello\\s+True\\s+1\\s+registry.local/hello:1")))
      << table.out;

  // Drift is repaired: someone edits the Deployment behind the operator's back.
  auto drift = kubectl({"patch", "deploy", "hello", "--type", "json", "-p",
                        R"([{"op":"replace","path":"/spec/template/spec/containers/0/image",)"
                        R"("value":"evil/image:1"}])"});
  ASSERT_EQ(drift.exit_code, 0) << drift.err;
  EXPECT_TRUE(eventually_equals("get deploy hello", "{.spec.template.spec.containers[0].image}",
                                "registry.local/hello:1"))
      << operator_log("op");

  // An edit rolls the Deployment.
  auto patched = kubectl({"patch", "fn", "hello", "--type", "merge", "-p",
                          R"({"spec":{"image":"registry.local/hello:2"}})"});
  ASSERT_EQ(patched.exit_code, 0) << patched.err;
  EXPECT_TRUE(eventually_equals("get deploy hello", "{.spec.template.spec.containers[0].image}",
                                "registry.local/hello:2"));

  // describe shows the operator's events.
  auto described = kubectl({"describe", "fn", "hello"});
  EXPECT_NE(described.out.find("DeploymentCreated"), std::string::npos) << described.out;

  // A client that never finishes its request does not hold the probes up.
  HttpConnection stalled(port);
  ASSERT_TRUE(stalled.send("GET /metrics HTTP/1.1\r\n"));
  auto health = http_request(port, "GET", "/healthz", {}, {}, seconds(1));
  ASSERT_TRUE(health) << "healthz blocked behind a stalled client";
  EXPECT_EQ(health->status, 200);

  // The operator's metrics use controller-runtime's names.
  auto metrics = http_request(port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_GT(
      metric_value(metrics->body,
                   "controller_runtime_reconcile_total{controller=\"function\",result=\"success\"}")
          .value_or(0),
      0)
      << metrics->body;
  EXPECT_TRUE(metric_value(metrics->body, "workqueue_depth{name=\"function\"}").has_value());
  // And the process's own, as every kubefn process exports them.
  EXPECT_GT(metric_value(metrics->body, "process_resident_memory_bytes").value_or(0), 0)
      << metrics->body;
  EXPECT_TRUE(metric_value(metrics->body, "process_cpu_seconds_total").has_value());

  auto deleted = kubectl({"delete", "fn", "hello"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  // A real garbage collector learns a just-created CRD's kind at its next discovery resync
  // (30 s): until then it cannot resolve the owner. Hence the minute.
  EXPECT_TRUE(wait_until(
      [&] {
        return kubectl({"get", "deploy", "hello"}).exit_code != 0;
      },
      seconds(60), std::chrono::milliseconds(200)));
  EXPECT_TRUE(wait_until(
      [&] {
        return kubectl({"get", "svc", "hello"}).exit_code != 0;
      },
      seconds(60), std::chrono::milliseconds(200)));
  // Nothing the Function owned, or what that owned in turn (ReplicaSets, Pods on the cluster),
  // is left behind by the garbage collector.
  EXPECT_TRUE(wait_until(
      [&] {
        return jsonpath("get deploy,rs,pods,svc,cm,jobs -l kubefn.dev/function=hello",
                        "{.items[*].metadata.name}")
            .empty();
      },
      seconds(30), std::chrono::milliseconds(200)))
      << jsonpath("get deploy,rs,pods,svc,cm,jobs -l kubefn.dev/function=hello",
                  "{.items[*].metadata.name}");

  op->signal(SIGTERM);
  EXPECT_EQ(op->wait_exit(seconds(10)), 0) << operator_log("op");
}

TEST_P(OperatorE2E, InvalidManifestsGetClearConditions) {
  std::unique_ptr<ChildProcess> op;
  ASSERT_NE(start_operator(op, "op"), 0) << operator_log("op");
  // What the CRD's schema can say, the API server refuses at apply, and nothing is stored.
  auto refused = kubectl({"apply", "-f", "-"},
                         function_yaml("bad", "  handler: greet\n  image: registry.local/x:1\n"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("spec.handler in body should match"), std::string::npos)
      << refused.err;
  EXPECT_NE(kubectl({"get", "fn", "bad"}).exit_code, 0);
  // What it cannot (one field against another), the operator says in a condition.
  ASSERT_EQ(kubectl({"apply", "-f", "-"},
                    function_yaml("bad",
                                  "  handler: bad.run\n  image: registry.local/x:1\n"
                                  "  scaling: {minReplicas: 3, maxReplicas: 2}\n"))
                .exit_code,
            0);
  EXPECT_TRUE(eventually_equals("get fn bad", "{.status.conditions[?(@.type==\"Ready\")].reason}",
                                "InvalidScaling"));
  EXPECT_NE(jsonpath("get fn bad", "{.status.conditions[?(@.type==\"Ready\")].message}")
                .find("spec.scaling.minReplicas (3) is above spec.scaling.maxReplicas (2)"),
            std::string::npos);
  auto described = kubectl({"describe", "fn", "bad"});
  EXPECT_NE(described.out.find("InvalidScaling"), std::string::npos) << described.out;
  // Fixing the manifest clears the condition.
  ASSERT_EQ(kubectl({"apply", "-f", "-"},
                    function_yaml("bad", "  handler: bad.run\n  image: registry.local/x:1\n"))
                .exit_code,
            0);
  EXPECT_TRUE(
      eventually_equals("get fn bad", "{.status.conditions[?(@.type==\"Ready\")].status}", "True"));
}

// Fields the schema lets through but the Deployment's consumers would refuse (the API server's
// Pod validation, the container runtime): each becomes Ready=False with a message naming the
// field, and nothing is created for it.
TEST_P(OperatorE2E, FieldsTheirConsumersWouldRefuseAreConditionsAndNothingIsCreated) {
  std::unique_ptr<ChildProcess> op;
  ASSERT_NE(start_operator(op, "op"), 0) << operator_log("op");
  struct Bad {
    std::string name;
    std::string spec;
    std::string reason;
    std::string message;
  };
  const std::string image = "  handler: bad.run\n  image: registry.local/x:1\n";
  const std::vector<Bad> bad = {
      {"quantity", image + "  resources: {limits: {memory: lots}}\n", "InvalidResources",
       "spec.resources.limits.memory: \"lots\" is not a quantity (for example 128Mi)"},
      {"over-limit", image + "  resources: {requests: {cpu: \"2\"}, limits: {cpu: 1500m}}\n",
       "InvalidResources",
       "spec.resources.requests.cpu (\"2\") is above spec.resources.limits.cpu (\"1500m\")"},
      {"field-ref",
       image + "  env: [{name: WHO, valueFrom: {fieldRef: {fieldPath: metadata.nam}}}]\n",
       "InvalidEnv",
       "spec.env[0].valueFrom.fieldRef.fieldPath: \"metadata.nam\" is not a pod field"},
      {"image", "  handler: bad.run\n  image: Registry.local/Hello:1\n", "InvalidImage",
       "spec.image: \"Registry.local/Hello:1\" is not an image reference"},
  };
  std::string all;
  for (const auto& b : bad)
    all += function_yaml(b.name, b.spec) + "---\n";
  auto applied = kubectl({"apply", "-f", "-"}, all);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  for (const auto& b : bad) {
    EXPECT_TRUE(eventually_equals("get fn " + b.name,
                                  "{.status.conditions[?(@.type==\"Ready\")].reason}", b.reason))
        << b.name << ": " << operator_log("op");
    EXPECT_EQ(jsonpath("get fn " + b.name, "{.status.conditions[?(@.type==\"Ready\")].status}"),
              "False");
    const std::string message =
        jsonpath("get fn " + b.name, "{.status.conditions[?(@.type==\"Ready\")].message}");
    EXPECT_EQ(message.rfind(b.message, 0), 0u) << b.name << ": " << message;
  }
  // Checked before anything is created: no Service, Deployment or ConfigMap for any of them.
  EXPECT_EQ(jsonpath("get deploy,svc,cm -l kubefn.dev/function", "{.items[*].metadata.name}"), "");
  // Fixed, it runs.
  ASSERT_EQ(kubectl({"apply", "-f", "-"},
                    function_yaml("quantity", image + "  resources: {limits: {memory: 64Mi}}\n"))
                .exit_code,
            0);
  EXPECT_TRUE(eventually_equals("get fn quantity",
                                "{.status.conditions[?(@.type==\"Ready\")].status}", "True"))
      << operator_log("op");
  // A default request never exceeds a limit set below it (the default is 32Mi).
  ASSERT_EQ(kubectl({"apply", "-f", "-"},
                    function_yaml("quantity", image + "  resources: {limits: {memory: 16Mi}}\n"))
                .exit_code,
            0);
  EXPECT_TRUE(eventually_equals("get deploy quantity",
                                "{.spec.template.spec.containers[0].resources.requests.memory}",
                                "16Mi"))
      << operator_log("op");
}

TEST_P(OperatorE2E, ExampleSourceIsStoredAndAnEditMakesANewConfigMap) {
  std::unique_ptr<ChildProcess> op;
  ASSERT_NE(start_operator(op, "op"), 0) << operator_log("op");
  const std::string manifest = std::string(KUBEFN_SOURCE_DIR) + "/examples/echo/function.yaml";
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, manifest_in_namespace(manifest)).exit_code, 0);
  std::string first;
  ASSERT_TRUE(wait_until(
      [&] {
        first = jsonpath("get cm -l kubefn.dev/function=echo", "{.items[*].metadata.name}");
        return !first.empty();
      },
      seconds(20), std::chrono::milliseconds(100)));
  EXPECT_EQ(first.rfind("echo-src-", 0), 0u);
  EXPECT_TRUE(eventually_equals("get fn echo", "{.status.conditions[?(@.type==\"Ready\")].reason}",
                                "BuildsDisabled"));
  ASSERT_EQ(kubectl({"patch", "fn", "echo", "--type", "merge", "-p",
                     R"({"spec":{"source":{"inline":"// changed\n"}}})"})
                .exit_code,
            0);
  EXPECT_TRUE(wait_until(
      [&] {
        std::string names =
            jsonpath("get cm -l kubefn.dev/function=echo", "{.items[*].metadata.name}");
        return names.find(' ') != std::string::npos;  // the new one beside the old one
      },
      seconds(20), std::chrono::milliseconds(100)));
}

TEST_P(OperatorE2E, KilledMidwayAndRestartedConvergesWithoutDuplicates) {
  std::string many;
  for (int i = 0; i < 20; ++i) {
    many +=
        function_yaml("fn" + std::to_string(i),
                      "  handler: fn.run\n  image: registry.local/fn:" + std::to_string(i) + "\n") +
        "---\n";
  }
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, many).exit_code, 0);
  std::unique_ptr<ChildProcess> op;
  ASSERT_NE(start_operator(op, "first"), 0) << operator_log("first");
  ASSERT_TRUE(
      wait_until([&] { return !jsonpath("get deploy", "{.items[*].metadata.name}").empty(); },
                 seconds(20), std::chrono::milliseconds(20)));
  op->signal(SIGKILL);
  op->wait_exit(seconds(5));
  std::unique_ptr<ChildProcess> again;
  ASSERT_NE(start_operator(again, "second"), 0) << operator_log("second");
  EXPECT_TRUE(wait_until(
      [&] {
        std::string ready = jsonpath(
            "get fn",
            "{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\" \"}{end}");
        return std::count(ready.begin(), ready.end(), 'T') == 20;
      },
      seconds(60), std::chrono::milliseconds(200)))
      << operator_log("second");
  std::string deps = jsonpath("get deploy", "{.items[*].metadata.name}");
  std::string svcs = jsonpath("get svc -l kubefn.dev/function", "{.items[*].metadata.name}");
  EXPECT_EQ(std::count(deps.begin(), deps.end(), ' ') + 1, 20) << deps;
  EXPECT_EQ(std::count(svcs.begin(), svcs.end(), ' ') + 1, 20) << svcs;
}

TEST_P(OperatorE2E, LeaderFailsOverWithinTheLeaseDuration) {
  const std::vector<std::string> le = {"--leader-elect", "--lease-namespace", ns(),
                                       "--lease-duration", "2"};
  std::unique_ptr<ChildProcess> a;
  std::unique_ptr<ChildProcess> b;
  std::uint16_t pa = start_operator(a, "a", le);
  std::uint16_t pb = start_operator(b, "b", le);
  ASSERT_NE(pa, 0);
  ASSERT_NE(pb, 0);
  auto leads = [](std::uint16_t port) {
    auto m = http_request(port, "GET", "/metrics");
    return m &&
           metric_value(m->body, "leader_election_master_status{name=\"kubefn-operator\"}") == 1;
  };
  ASSERT_TRUE(wait_until([&] { return leads(pa) || leads(pb); }, seconds(20)));
  const bool a_leads = leads(pa);
  EXPECT_FALSE(a_leads && leads(pb)) << "two leaders";
  EXPECT_EQ(jsonpath("get lease kubefn-operator", "{.spec.holderIdentity}"), a_leads ? "a" : "b");
  ChildProcess& leader = a_leads ? *a : *b;
  const std::uint16_t other = a_leads ? pb : pa;
  leader.signal(SIGKILL);
  leader.wait_exit(seconds(5));
  // The survivor takes the lease once it expires, then reconciles.
  EXPECT_TRUE(wait_until([&] { return leads(other); }, seconds(10)));
  ASSERT_EQ(kubectl({"apply", "-f", "-"},
                    function_yaml("after", "  handler: after.run\n  image: registry.local/a:1\n"))
                .exit_code,
            0);
  EXPECT_TRUE(eventually_equals("get deploy after", "{.spec.template.spec.containers[0].image}",
                                "registry.local/a:1"));
}

TEST_P(OperatorE2E, SomeoneElsesDeploymentIsAConflictNotATakeover) {
  const std::string foreign =
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: " + ns() +
      "\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n"
      "    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n"
      "      - name: web\n        image: someone/web:1\n";
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, foreign).exit_code, 0);
  std::unique_ptr<ChildProcess> op;
  ASSERT_NE(start_operator(op, "op"), 0) << operator_log("op");
  ASSERT_EQ(kubectl({"apply", "-f", "-"},
                    function_yaml("web", "  handler: web.run\n  image: registry.local/web:1\n"))
                .exit_code,
            0);
  EXPECT_TRUE(eventually_equals("get fn web", "{.status.conditions[?(@.type==\"Ready\")].reason}",
                                "DeploymentConflict"))
      << operator_log("op");
  EXPECT_EQ(jsonpath("get deploy web", "{.spec.template.spec.containers[0].image}"),
            "someone/web:1");
  EXPECT_EQ(jsonpath("get deploy web", "{.metadata.ownerReferences}"), "");
  // Deleting the Function leaves the foreign Deployment alone.
  ASSERT_EQ(kubectl({"delete", "fn", "web"}).exit_code, 0);
  EXPECT_TRUE(wait_until(
      [&] {
        return kubectl({"get", "fn", "web"}).exit_code != 0;
      },
      seconds(20), std::chrono::milliseconds(100)));
  EXPECT_EQ(jsonpath("get deploy web", "{.spec.template.spec.containers[0].image}"),
            "someone/web:1");
}

TEST_P(OperatorE2E, AHostHeldByAnotherFunctionIsAConditionUntilTheHolderGoes) {
  std::unique_ptr<ChildProcess> op;
  ASSERT_NE(start_operator(op, "op", {"--allow-host", ns() + "=*.example.com"}), 0)
      << operator_log("op");
  const std::string ready_reason = "{.status.conditions[?(@.type==\"Ready\")].reason}";
  const std::string ready_message = "{.status.conditions[?(@.type==\"Ready\")].message}";
  auto with_host = [&](const std::string& name, const std::string& host) {
    return function_yaml(name, "  handler: " + name + ".run\n  image: registry.local/" + name +
                                   ":1\n  triggers:\n    http:\n      host: " + host + "\n");
  };
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, with_host("first", "shop.example.com")).exit_code, 0);
  ASSERT_TRUE(eventually_equals("get fn first", ready_reason, "Ready")) << operator_log("op");
  // Created later (or, in the same second, named later): the host stays with the first.
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, with_host("second", "Shop.Example.com")).exit_code, 0);
  EXPECT_TRUE(eventually_equals("get fn second", ready_reason, "HostConflict"))
      << operator_log("op");
  EXPECT_NE(jsonpath("get fn second", ready_message)
                .find("host shop.example.com is held by " + ns() + "/first"),
            std::string::npos)
      << jsonpath("get fn second", ready_message);
  // It still runs at its own route.
  EXPECT_TRUE(eventually_equals("get deploy second", "{.spec.template.spec.containers[0].image}",
                                "registry.local/second:1"));
  // The gateway's names and hosts outside the allowance are refused; a malformed host is a
  // bad spec.
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, with_host("local", "localhost")).exit_code, 0);
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, with_host("outside", "shop.example.org")).exit_code, 0);
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, with_host("ip", "\"127.0.0.1\"")).exit_code, 0);
  EXPECT_TRUE(eventually_equals("get fn local", ready_reason, "HostNotAllowed"));
  EXPECT_TRUE(eventually_equals("get fn outside", ready_reason, "HostNotAllowed"));
  EXPECT_NE(jsonpath("get fn outside", ready_message).find("--allow-host " + ns() + "="),
            std::string::npos);
  EXPECT_TRUE(eventually_equals("get fn ip", ready_reason, "InvalidTrigger"));
  auto described = kubectl({"describe", "fn", "second"});
  EXPECT_NE(described.out.find("HostConflict"), std::string::npos) << described.out;

  // The holder goes: the next claimant holds the host and becomes Ready.
  ASSERT_EQ(kubectl({"delete", "fn", "first"}).exit_code, 0);
  EXPECT_TRUE(eventually_equals("get fn second", ready_reason, "Ready")) << operator_log("op");
  EXPECT_EQ(jsonpath("get fn second", "{.status.conditions[?(@.type==\"Ready\")].status}"), "True");
}

KUBEFN_ON_BOTH_APIS(OperatorE2E);

}  // namespace
}  // namespace kubefn::testing
