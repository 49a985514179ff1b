// The whole product on a real node (label `cluster`): the cluster scripts/cluster up
// --real-node runs (a kubelet on containerd and runc, kube-proxy, CoreDNS, the node's
// registry), with kubefn installed by scripts/cluster install (its images built here, pushed
// to that registry, the chart installed by helm). Everything goes through what a user has:
// kubectl, the gateway's node port, curl and a load generator; and, to publish to the suite's
// NATS server (scripts/cluster nats), kubefn's NATS client on that server's node port.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const char* kSystemNamespace = "kubefn-system";

std::string cluster_dir() {
  const char* dir = std::getenv("KUBEFN_NODE_CLUSTER_DIR");
  return dir ? dir : "";
}

CommandResult kubectl(const std::vector<std::string>& args, const std::string& stdin_text = {},
                      std::chrono::milliseconds timeout = 60s) {
  std::vector<std::string> argv{KUBEFN_DEFAULT_KUBECTL, "--kubeconfig",
                                cluster_dir() + "/admin.kubeconfig"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, {}, timeout, stdin_text);
}

json kubectl_json(const std::vector<std::string>& args) {
  std::vector<std::string> all = args;
  all.insert(all.end(), {"-o", "json"});
  const CommandResult r = kubectl(all);
  if (r.exit_code != 0) return json();
  return json::parse(r.out, nullptr, false);
}

struct Reply {
  int status = 0;
  std::string body;
};

// One call with curl, as a user makes it.
Reply curl(const std::string& url, const std::vector<std::string>& headers = {},
           const std::string& method = "GET", const std::string& body = {}) {
  std::vector<std::string> argv{"curl", "-sS", "--max-time", "40", "-X",
                                method, "-o",  "-",          "-w", "\n%{http_code}"};
  for (const auto& h : headers)
    argv.insert(argv.end(), {"-H", h});
  if (!body.empty()) argv.insert(argv.end(), {"--data-binary", "@-"});
  argv.push_back(url);
  const CommandResult r = run_command(argv, {}, 60s, body);
  Reply reply;
  const auto nl = r.out.rfind('\n');
  if (nl == std::string::npos) return reply;
  reply.body = r.out.substr(0, nl);
  reply.status = std::atoi(r.out.c_str() + nl + 1);
  if (!reply.body.empty() && reply.body.back() == '\n') reply.body.pop_back();  // the handlers'
  return reply;
}

// SCHEME://NODE-ADDRESS:NODE-PORT of a NodePort Service (empty when there is none).
std::string node_port_url(const std::string& scheme, const std::string& ns,
                          const std::string& service) {
  const json svc = kubectl_json({"-n", ns, "get", "service", service});
  const json nodes = kubectl_json({"get", "nodes"});
  if (!svc.is_object() || !nodes.is_object() || nodes["items"].empty()) return std::string();
  std::string address;
  for (const auto& a : nodes["items"][0]["status"]["addresses"]) {
    if (a.value("type", "") == "InternalIP") address = a.value("address", "");
  }
  return scheme + "://" + address + ":" +
         std::to_string(svc["spec"]["ports"][0].value("nodePort", 0));
}

// http://NODE-ADDRESS:NODE-PORT of the gateway Service.
std::string gateway_url() {
  static const std::string url = node_port_url("http", kSystemNamespace, "kubefn-gateway");
  return url;
}

// The suite's NATS server (scripts/cluster nats): its Service in the cluster, and its node port
// for the test's own client.
const char* kNatsNamespace = "messaging";

std::string nats_node_url() {
  static const std::string url = node_port_url("nats", kNatsNamespace, "nats");
  return url;
}

// What the release's gateway and dispatcher said last, and the pods of the system namespace:
// for a failure's message.
std::string release_logs() {
  std::string out = kubectl({"-n", kSystemNamespace, "get", "pods", "-o", "wide"}).out;
  for (const char* d : {"kubefn-gateway", "kubefn-dispatcher"}) {
    out +=
        std::string("--- ") + d + "\n" +
        kubectl({"-n", kSystemNamespace, "logs", std::string("deployment/") + d, "--tail=20"}).out;
  }
  return out;
}

// Lines of `kubectl logs` of a Deployment's pod that match `re`, as their groups.
std::vector<std::vector<std::string>> log_matches(const std::string& ns,
                                                  const std::string& deployment,
                                                  const std::regex& re) {
  std::vector<std::vector<std::string>> out;
  const CommandResult logs = kubectl({"-n", ns, "logs", "deployment/" + deployment, "--tail=-1"});
  for (std::sregex_iterator it(logs.out.begin(), logs.out.end(), re), end; it != end; ++it) {
    std::vector<std::string> groups;
    for (std::size_t i = 1; i < it->size(); ++i)
      groups.push_back((*it)[i]);
    out.push_back(std::move(groups));
  }
  return out;
}

std::string gateway_token() {
  const CommandResult r = kubectl({"-n", kSystemNamespace, "get", "secret", "kubefn-gateway-keys",
                                   "-o", "jsonpath={.data.token}"});
  const CommandResult decoded = run_command({"base64", "-d"}, {}, 10s, r.out);
  return decoded.out;
}

json find_condition(const json& fn, const std::string& type) {
  for (const auto& c : fn.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == type) return c;
  }
  return json();
}

json get_function(const std::string& ns, const std::string& name) {
  return kubectl_json({"-n", ns, "get", "function", name});
}

// Waits until condition `type` of the Function has `status` (and, when given, `reason`);
// returns the condition last seen.
json wait_condition(const std::string& ns, const std::string& name, const std::string& type,
                    const std::string& status, const std::string& reason,
                    std::chrono::milliseconds timeout) {
  json last;
  wait_until(
      [&] {
        last = find_condition(get_function(ns, name), type);
        return last.is_object() && last.value("status", "") == status &&
               (reason.empty() || last.value("reason", "") == reason);
      },
      timeout, 500ms);
  return last;
}

void make_namespace(const std::string& ns) {
  kubectl({"delete", "namespace", ns, "--ignore-not-found", "--wait=true"}, {}, 120s);
  ASSERT_EQ(kubectl({"create", "namespace", ns}).exit_code, 0);
}

std::string source_function(const std::string& ns, const std::string& name, const std::string& code,
                            const json& extra = json::object()) {
  json fn = {{"apiVersion", "kubefn.dev/v1alpha1"},
             {"kind", "Function"},
             {"metadata", {{"name", name}, {"namespace", ns}}},
             {"spec",
              {{"runtime", "cpp20"},
               {"handler", name + ".handle"},
               {"access", "public"},
               {"source", {{"inline", code}}}}}};
  fn["spec"].update(extra);
  return fn.dump();
}

std::string replying(const std::string& text) {
  return "#include <kubefn/function.hpp>\n#include <string>\n"
         "std::string handle(const kubefn::Event&, kubefn::Context&) { return \"" +
         text + "\\n\"; }\nKUBEFN_HANDLER(handle);\n";
}

std::int64_t deployment_replicas(const std::string& ns, const std::string& name) {
  const json d = kubectl_json({"-n", ns, "get", "deployment", name});
  if (!d.is_object()) return -1;
  return d["spec"].value("replicas", -1);
}

// The status codes a load generator counted ("[200] 1234 responses"), and whether it saw any
// connection error.
struct LoadResult {
  std::map<int, long> statuses;
  bool errors = false;
  std::string text;
  long total() const {
    long n = 0;
    for (const auto& [code, count] : statuses)
      n += count;
    return n;
  }
};

LoadResult parse_load(const std::string& out) {
  LoadResult r;
  r.text = out;
  static const std::regex line(R"(\[(\d{3})\]\s+(\d+) responses)");
  for (std::sregex_iterator it(out.begin(), out.end(), line), end; it != end; ++it) {
    r.statuses[std::stoi((*it)[1])] += std::stol((*it)[2]);
  }
  r.errors = out.find("Error distribution") != std::string::npos;
  return r;
}

class Node : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cluster_dir().empty())
      GTEST_FAIL() << "KUBEFN_NODE_CLUSTER_DIR is not set: run under ctest, or set it to a cluster "
                      "of scripts/cluster up --real-node with kubefn installed";
    ASSERT_FALSE(gateway_url().empty()) << "no gateway Service: was scripts/cluster install run?";
  }
};

TEST_F(Node, OperatorAndGatewayPodsRunAndAreReady) {
  const json pods = kubectl_json({"-n", kSystemNamespace, "get", "pods"});
  ASSERT_TRUE(pods.is_object());
  std::map<std::string, int> ready;
  for (const auto& pod : pods["items"]) {
    const std::string component =
        pod["metadata"]["labels"].value("app.kubernetes.io/component", "");
    EXPECT_EQ(pod["status"].value("phase", ""), "Running") << pod["metadata"]["name"];
    for (const auto& c : pod["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "Ready" && c.value("status", "") == "True") ++ready[component];
    }
    // Each runs the image built here, from the node's registry.
    const std::string image = pod["spec"]["containers"][0].value("image", "");
    EXPECT_NE(image.find("/kubefn/" + component), std::string::npos) << image;
    EXPECT_NE(image.find("@sha256:"), std::string::npos) << image;
  }
  EXPECT_EQ(ready["operator"], 1);
  EXPECT_EQ(ready["gateway"], 1);
  EXPECT_EQ(ready["dispatcher"], 1);
}

// The README's path: the hello example, given as source, built by a Job on the node, run by
// its Deployment, answered through the gateway.
TEST_F(Node, TheHelloExampleIsBuiltOnTheNodeAndAnswersThroughTheGateway) {
  const std::string file = std::string(KUBEFN_SOURCE_DIR) + "/examples/hello/function.yaml";
  kubectl({"delete", "-f", file, "--ignore-not-found", "--wait=true"}, {}, 120s);
  const CommandResult applied = kubectl({"apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  const json built = wait_condition("default", "hello", "Built", "True", "", 240s);
  EXPECT_EQ(built.value("status", ""), "True") << get_function("default", "hello").dump(2);
  // The build ran as a pod of a Job (kept until its TTL), on the real node. Built comes from
  // the build container's exit, a moment before the Job controller counts the Job succeeded.
  json jobs;
  EXPECT_TRUE(wait_until(
      [&] {
        jobs = kubectl_json({"-n", "default", "get", "jobs", "-l", "kubefn.dev/function=hello"});
        return jobs.is_object() && !jobs["items"].empty() &&
               jobs["items"][0]["status"].value("succeeded", 0) == 1;
      },
      60s, 500ms))
      << jobs.dump();

  Reply reply;
  EXPECT_TRUE(wait_until(
      [&] {
        reply = curl(gateway_url() + "/default/hello?name=node");
        return reply.status == 200;
      },
      120s, 1s))
      << reply.status << " " << reply.body;
  EXPECT_EQ(reply.body, "hello node");
  const json ready = wait_condition("default", "hello", "Ready", "True", "", 60s);
  EXPECT_EQ(ready.value("status", ""), "True");
  // status.url is the function's cluster DNS name.
  const std::string url = get_function("default", "hello")["status"].value("url", "");
  EXPECT_NE(url.find("hello.default.svc.cluster.local"), std::string::npos) << url;
}

// status.url is what a client inside the cluster uses: a function that fetches a URL (plain
// sockets: the cluster's DNS resolves the name, kube-proxy routes the Service address) gets
// hello's answer from it.
TEST_F(Node, StatusUrlAnswersInsideTheCluster) {
  const std::string ns = "node-url";
  make_namespace(ns);
  ASSERT_EQ(
      kubectl({"apply", "-f", "-"}, source_function(ns, "target", replying("inside"))).exit_code,
      0);
  ASSERT_EQ(wait_condition(ns, "target", "Ready", "True", "", 240s).value("status", ""), "True");
  const std::string url = get_function(ns, "target")["status"].value("url", "");
  ASSERT_EQ(url, "http://target." + ns + ".svc.cluster.local:8080");
  const std::string fetch = R"(#include <kubefn/function.hpp>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string>
// GET http://HOST:PORT/ of ?host=&port=, the answer's body (or why not).
std::string handle(const kubefn::Event& event, kubefn::Context&) {
  const std::string host(event.query_param("host")), port(event.query_param("port"));
  addrinfo hints{}, *found = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int e = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); e != 0)
    return std::string("resolve: ") + gai_strerror(e);
  int fd = socket(found->ai_family, SOCK_STREAM, 0);
  if (connect(fd, found->ai_addr, found->ai_addrlen) != 0) { freeaddrinfo(found); close(fd); return "connect failed"; }
  freeaddrinfo(found);
  const std::string req = "GET / HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
  if (write(fd, req.data(), req.size()) < 0) { close(fd); return "write failed"; }
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(fd);
  const auto body = got.find("\r\n\r\n");
  return body == std::string::npos ? "no answer: " + got : got.substr(body + 4);
}
KUBEFN_HANDLER(handle);
)";
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, source_function(ns, "fetch", fetch)).exit_code, 0);
  ASSERT_EQ(wait_condition(ns, "fetch", "Built", "True", "", 240s).value("status", ""), "True");
  const std::string host = "target." + ns + ".svc.cluster.local";
  Reply reply;
  EXPECT_TRUE(wait_until(
      [&] {
        reply = curl(gateway_url() + "/" + ns + "/fetch?host=" + host + "&port=8080");
        return reply.status == 200 && reply.body == "inside";
      },
      120s, 1s))
      << reply.status << " " << reply.body;
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

TEST_F(Node, ThePrivateEchoNeedsItsToken) {
  const std::string file = std::string(KUBEFN_SOURCE_DIR) + "/examples/echo/function.yaml";
  ASSERT_EQ(kubectl({"apply", "-f", file}).exit_code, 0);
  EXPECT_EQ(wait_condition("default", "echo", "Built", "True", "", 240s).value("status", ""),
            "True");
  EXPECT_EQ(curl(gateway_url() + "/default/echo", {}, "POST", "ping").status, 401);
  // An unknown token is refused as one scoped elsewhere would be.
  EXPECT_EQ(
      curl(gateway_url() + "/default/echo", {"Authorization: Bearer wrong"}, "POST", "ping").status,
      403);
  Reply reply;
  const std::string auth = "Authorization: Bearer " + gateway_token();
  EXPECT_TRUE(wait_until(
      [&] {
        reply = curl(gateway_url() + "/default/echo", {auth, "Content-Type: text/plain"}, "POST",
                     "ping");
        return reply.status == 200;
      },
      120s, 1s))
      << reply.status << " " << reply.body;
  EXPECT_EQ(reply.body, "ping");
  kubectl({"delete", "-f", file, "--wait=true"}, {}, 120s);
}

// Load through the gateway scales the Deployment up (the replicas' and the gateway's reports
// reach the operator's stats stream through the cluster's DNS and Services), the keep-alive
// takes it to zero, and a call at zero is answered.
TEST_F(Node, LoadScalesUpThenToZeroAndACallAtZeroIsAnswered) {
  const std::string ns = "node-scale";
  make_namespace(ns);
  const json scaling = {{"scaling",
                         {{"minReplicas", 0},
                          {"maxReplicas", 4},
                          {"metric", "concurrency"},
                          {"target", 2},
                          {"keepAlive", "fixed"},
                          {"scaleToZeroGracePeriod", 5},
                          {"stableWindow", 6}}}};
  const std::string code =
      "#include <kubefn/function.hpp>\n#include <chrono>\n#include <string>\n#include <thread>\n"
      "std::string handle(const kubefn::Event&, kubefn::Context&) {\n"
      "  std::this_thread::sleep_for(std::chrono::milliseconds(20));\n"
      "  return \"busy\\n\";\n}\nKUBEFN_HANDLER(handle);\n";
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, source_function(ns, "busy", code, scaling)).exit_code, 0);
  ASSERT_EQ(wait_condition(ns, "busy", "Built", "True", "", 240s).value("status", ""), "True");
  const std::string url = gateway_url() + "/" + ns + "/busy";
  ASSERT_TRUE(wait_until([&] { return curl(url).status == 200; }, 120s, 1s));

  std::int64_t peak = 0;
  {
    BackgroundCommand load({"hey", "-z", "30s", "-c", "16", "-t", "20", url});
    wait_until(
        [&] {
          peak = std::max(peak, deployment_replicas(ns, "busy"));
          return peak > 1;
        },
        40s, 500ms);
    const LoadResult r = parse_load(load.wait(60s).out);
    EXPECT_GT(r.total(), 0) << r.text;
  }
  EXPECT_GT(peak, 1) << "16 concurrent calls at a target of 2 per replica";
  std::int64_t replicas = -1;
  EXPECT_TRUE(wait_until(
      [&] {
        replicas = deployment_replicas(ns, "busy");
        return replicas == 0;
      },
      120s, 1s))
      << "replicas: " << replicas;
  EXPECT_TRUE(wait_until(
      [&] {
        const json pods = kubectl_json(
            {"-n", ns, "get", "pods", "-l", "kubefn.dev/function=busy,!kubefn.dev/build"});
        return pods.is_object() && pods["items"].empty();
      },
      60s, 1s));
  // At zero: the gateway holds the call until a replica is ready.
  const auto start = std::chrono::steady_clock::now();
  const Reply cold = curl(url);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(cold.status, 200) << cold.body;
  EXPECT_EQ(cold.body, "busy");
  std::cout << "call at zero answered in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

// A new source while calls keep coming: the old replicas serve until the new image's are
// ready, and no call fails.
TEST_F(Node, ASourceChangeUnderLoadRollsWithNoFailedCall) {
  const std::string ns = "node-roll";
  make_namespace(ns);
  const json scaling = {{"scaling", {{"minReplicas", 1}, {"maxReplicas", 2}}}};
  ASSERT_EQ(
      kubectl({"apply", "-f", "-"}, source_function(ns, "roll", replying("v1"), scaling)).exit_code,
      0);
  ASSERT_EQ(wait_condition(ns, "roll", "Ready", "True", "", 240s).value("status", ""), "True");
  const std::string url = gateway_url() + "/" + ns + "/roll";
  ASSERT_TRUE(wait_until([&] { return curl(url).body == "v1"; }, 120s, 1s));

  BackgroundCommand load({"hey", "-z", "60s", "-c", "4", "-q", "50", "-t", "20", url});
  ASSERT_EQ(
      kubectl({"apply", "-f", "-"}, source_function(ns, "roll", replying("v2"), scaling)).exit_code,
      0);
  EXPECT_TRUE(wait_until([&] { return curl(url).body == "v2"; }, 240s, 1s));
  const LoadResult r = parse_load(load.wait(90s).out);
  EXPECT_GT(r.total(), 100) << r.text;
  EXPECT_EQ(r.statuses.size(), 1u) << r.text;
  EXPECT_GT(r.statuses.count(200), 0u) << r.text;
  EXPECT_FALSE(r.errors) << r.text;
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

// kubectl delete takes everything the Function made with it.
TEST_F(Node, DeletingAFunctionLeavesNothingBehind) {
  const std::string ns = "node-delete";
  make_namespace(ns);
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, source_function(ns, "gone", replying("gone"))).exit_code,
            0);
  ASSERT_EQ(wait_condition(ns, "gone", "Ready", "True", "", 240s).value("status", ""), "True");
  ASSERT_EQ(kubectl({"-n", ns, "delete", "function", "gone", "--wait=true"}, {}, 120s).exit_code,
            0);
  std::string left;
  EXPECT_TRUE(wait_until(
      [&] {
        const CommandResult r =
            kubectl({"-n", ns, "get", "pods,jobs,configmaps,replicasets,deployments,services", "-l",
                     "kubefn.dev/function=gone", "-o", "name"});
        left = r.out;
        return r.exit_code == 0 && r.out.empty();
      },
      120s, 1s))
      << left;
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

// What a user must be told on a real node: a crash (with its last log lines), a compile error
// (the compiler's first), an image that cannot be pulled (its reference).
TEST_F(Node, FailuresOnTheNodeReachTheFunctionsConditions) {
  const std::string ns = "node-failures";
  make_namespace(ns);
  const std::string crash =
      "#include <kubefn/function.hpp>\n#include <cstdio>\n#include <cstdlib>\n#include <string>\n"
      "namespace { struct Boom { Boom() { std::fprintf(stderr, \"the crash function gives up\\n\");"
      " std::fflush(stderr); std::abort(); } } boom; }\n"
      "std::string handle(const kubefn::Event&, kubefn::Context&) { return \"\"; }\n"
      "KUBEFN_HANDLER(handle);\n";
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, source_function(ns, "crash", crash)).exit_code, 0);
  ASSERT_EQ(
      kubectl({"apply", "-f", "-"}, source_function(ns, "broken", "int handle( { return 0; }\n"))
          .exit_code,
      0);
  const std::string registry =
      kubectl_json({"-n", kSystemNamespace, "get", "deployment", "kubefn-operator"})
          .value("spec", json::object())
          .value("template", json::object())
          .value("spec", json::object())
          .value("containers", json::array({json::object()}))[0]
          .value("image", "");
  const std::string missing = registry.substr(0, registry.find('/')) + "/nowhere/none:1";
  json pull = {{"apiVersion", "kubefn.dev/v1alpha1"},
               {"kind", "Function"},
               {"metadata", {{"name", "nopull"}, {"namespace", ns}}},
               {"spec", {{"handler", "none.handle"}, {"image", missing}, {"access", "public"}}}};
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, pull.dump()).exit_code, 0);

  const json built = wait_condition(ns, "broken", "Built", "False", "BuildFailed", 240s);
  EXPECT_NE(built.value("message", "").find("error:"), std::string::npos) << built.dump();

  const json crashed = wait_condition(ns, "crash", "Ready", "False", "CrashLoopBackOff", 240s);
  EXPECT_EQ(crashed.value("reason", ""), "CrashLoopBackOff") << crashed.dump();
  EXPECT_NE(crashed.value("message", "").find("the crash function gives up"), std::string::npos)
      << crashed.dump();

  const json unpulled = wait_condition(ns, "nopull", "Ready", "False", "", 120s);
  json seen = unpulled;
  wait_until(
      [&] {
        seen = find_condition(get_function(ns, "nopull"), "Ready");
        const std::string reason = seen.value("reason", "");
        return reason == "ImagePullBackOff" || reason == "ErrImagePull";
      },
      120s, 1s);
  EXPECT_TRUE(seen.value("reason", "") == "ImagePullBackOff" ||
              seen.value("reason", "") == "ErrImagePull")
      << seen.dump();
  EXPECT_NE(seen.value("message", "").find(missing), std::string::npos) << seen.dump();
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

// A schedule on the cluster: the dispatcher's Deployment calls the private function through the
// gateway on time, each run once, also when its pod is deleted and another takes over.
TEST_F(Node, ASchedulesRunsComeThroughTheGatewayOnceEachAcrossADispatcherRestart) {
  const std::string ns = "node-schedule";
  make_namespace(ns);
  const std::string code =
      "#include <kubefn/function.hpp>\n#include <string>\n"
      "std::string handle(const kubefn::Event& e, kubefn::Context& ctx) {\n"
      "  ctx.log().info(\"run \" + std::string(e.cloud_event.id) + \" \" +\n"
      "                 std::string(e.header(\"authorization\").empty() ? \"clean\" : \"LEAK\"));\n"
      "  return \"ok\\n\";\n}\nKUBEFN_HANDLER(handle);\n";
  json extra = {{"access", "private"},
                {"scaling", {{"minReplicas", 1}, {"maxReplicas", 1}}},
                {"triggers", {{"schedules", {{{"name", "tick"}, {"schedule", "@every 3s"}}}}}}};
  const CommandResult applied =
      kubectl({"apply", "-f", "-"}, source_function(ns, "tick", code, extra));
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  // The runs the function logged, by event id.
  auto runs = [&] {
    std::map<std::string, int> out;
    const CommandResult logs = kubectl({"-n", ns, "logs", "deployment/tick", "--tail=-1"});
    static const std::regex run("run ([0-9a-f]+-[0-9]+) (clean|LEAK)");
    for (std::sregex_iterator it(logs.out.begin(), logs.out.end(), run), end; it != end; ++it) {
      EXPECT_EQ((*it)[2], "clean") << "a credential reached the function";
      ++out[(*it)[1]];
    }
    return out;
  };
  ASSERT_TRUE(wait_until([&] { return runs().size() >= 3; }, 300s, 2s))
      << get_function(ns, "tick").dump(2);
  const json entry = get_function(ns, "tick")["status"]["triggers"][0];
  EXPECT_EQ(entry.value("name", ""), "tick");
  EXPECT_FALSE(entry.value("lastCompletedTime", "").empty()) << entry.dump();

  const std::size_t before = runs().size();
  const CommandResult deleted = kubectl(
      {"-n", kSystemNamespace, "delete", "pod", "-l", "app.kubernetes.io/component=dispatcher"}, {},
      120s);
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  ASSERT_TRUE(wait_until([&] { return runs().size() >= before + 3; }, 180s, 2s));
  for (const auto& [id, n] : runs())
    EXPECT_EQ(n, 1) << id << " ran " << n << " times";
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

// A NATS trigger on the cluster: the chart's dispatcher reads a stream of the suite's NATS
// server (in the cluster, by its Service name) and calls the private function through the
// gateway: every message on the trigger's subject once, none of another subject, and no
// credential reaching the function.
TEST_F(Node, ANatsTriggersMessagesReachTheFunctionOnceEachThroughTheGateway) {
  const std::string ns = "node-nats";
  make_namespace(ns);
  ASSERT_FALSE(nats_node_url().empty()) << "no NATS Service: was scripts/cluster nats run?";
  auto conn = nats::Connection::connect([] {
    nats::Options o;
    o.url = nats_node_url();
    return o;
  }());
  ASSERT_TRUE(conn.ok()) << nats_node_url() << ": " << conn.status().message();
  nats::JetStream js(conn.value());
  (void)js.delete_stream("NODE_ORDERS");  // a run before this one
  nats::StreamConfig stream;
  stream.name = "NODE_ORDERS";
  stream.subjects = {"node.orders.>"};
  auto made = js.create_or_update_stream(stream);
  ASSERT_TRUE(made.ok()) << made.status().message();

  const std::string code =
      "#include <kubefn/function.hpp>\n#include <string>\n"
      "std::string handle(const kubefn::Event& e, kubefn::Context& ctx) {\n"
      "  ctx.log().info(\"message \" + std::string(e.cloud_event.id) + \" \" +\n"
      "                 std::string(e.cloud_event.type) + \" \" + "
      "std::string(e.cloud_event.subject) +\n"
      "                 \" \" + std::string(e.header(\"authorization\").empty() ? \"clean\" : "
      "\"LEAK\") +\n"
      "                 \" body=\" + std::string(e.data) + \";\");\n"
      "  return \"ok\\n\";\n}\nKUBEFN_HANDLER(handle);\n";
  const json extra = {{"access", "private"},
                      {"scaling", {{"minReplicas", 1}, {"maxReplicas", 1}}},
                      {"triggers",
                       {{"nats",
                         {{{"name", "created"},
                           {"url", KUBEFN_NODE_NATS_URL},
                           {"stream", "NODE_ORDERS"},
                           {"subject", "node.orders.created"}}}}}}};
  const CommandResult applied =
      kubectl({"apply", "-f", "-"}, source_function(ns, "orders", code, extra));
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  ASSERT_EQ(wait_condition(ns, "orders", "Ready", "True", "", 240s).value("status", ""), "True")
      << get_function(ns, "orders").dump(2);
  // The dispatcher made its durable consumer on the stream.
  const std::string consumer = "kubefn-" + ns + "-orders-created";
  ASSERT_TRUE(wait_until([&] { return js.consumer_info("NODE_ORDERS", consumer).ok(); }, 120s, 1s))
      << "no consumer " << consumer;

  constexpr int kMessages = 50;
  const auto published = std::chrono::steady_clock::now();
  for (int k = 1; k <= kMessages; ++k) {
    auto ack = js.publish("node.orders.created", std::to_string(k));
    ASSERT_TRUE(ack.ok()) << ack.status().message();
    if (k % 10 == 0) {  // another subject of the stream: not the trigger's
      auto other = js.publish("node.orders.cancelled", "other-" + std::to_string(k));
      ASSERT_TRUE(other.ok()) << other.status().message();
    }
  }
  static const std::regex line(
      R"(message (NODE_ORDERS:[0-9]+) (\S+) (\S+) (clean|LEAK) body=([^;]*);)");
  std::map<std::string, int> bodies;
  std::map<std::string, int> ids;
  auto read_back = [&] {
    bodies.clear();
    ids.clear();
    for (const auto& m : log_matches(ns, "orders", line)) {
      ++ids[m[0]];
      ++bodies[m[4]];
      EXPECT_EQ(m[1], "dev.kubefn.nats.message");
      EXPECT_EQ(m[2], "node.orders.created");
      EXPECT_EQ(m[3], "clean") << "a credential reached the function";
    }
    return bodies.size() >= static_cast<std::size_t>(kMessages);
  };
  EXPECT_TRUE(wait_until(read_back, 180s, 2s)) << bodies.size() << " of " << kMessages << "\n"
                                               << release_logs();
  const auto took = std::chrono::steady_clock::now() - published;
  for (int k = 1; k <= kMessages; ++k)
    EXPECT_EQ(bodies[std::to_string(k)], 1) << "message " << k;
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kMessages)) << "a message of another subject";
  for (const auto& [id, n] : ids)
    EXPECT_EQ(n, 1) << id << " delivered " << n << " times";
  std::cout << kMessages << " NATS messages delivered in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  // Acknowledged, all of them: nothing left for the consumer.
  nats::Result<nats::ConsumerInfo> info = js.consumer_info("NODE_ORDERS", consumer);
  EXPECT_TRUE(wait_until(
      [&] {
        info = js.consumer_info("NODE_ORDERS", consumer);
        return info.ok() && info.value().num_pending == 0 && info.value().num_ack_pending == 0;
      },
      60s, 1s));
  kubectl({"delete", "namespace", ns, "--wait=false"});
  (void)js.delete_stream("NODE_ORDERS");
}

// An asynchronous call on the cluster: the gateway queues it on the suite's NATS server (the
// release's async.natsUrl) and answers 202; the chart's dispatcher runs it through the gateway
// and POSTs the outcome to the callback URL, here another function behind the gateway's
// Service; the call's state reads back succeeded with the worker's result.
TEST_F(Node, AnAsyncCallIsQueuedRunAndCalledBackInsideTheCluster) {
  const std::string ns = "node-async";
  make_namespace(ns);
  const std::string worker =
      "#include <kubefn/function.hpp>\n#include <string>\n"
      "kubefn::Response handle(const kubefn::Event& e, kubefn::Context& ctx) {\n"
      "  ctx.log().info(\"work \" + std::string(e.header(\"kubefn-call-id\")) + \" \" +\n"
      "                 std::string(e.header(\"authorization\").empty() ? \"clean\" : \"LEAK\"));\n"
      "  return kubefn::Response{200, {{\"Content-Type\", \"text/plain\"}},\n"
      "                          \"worked \" + std::string(e.data)};\n}\n"
      "KUBEFN_HANDLER(handle);\n";
  const std::string receiver =
      "#include <kubefn/function.hpp>\n#include <string>\n"
      "std::string handle(const kubefn::Event& e, kubefn::Context& ctx) {\n"
      "  ctx.log().info(\"callback \" + std::string(e.header(\"kubefn-call-id\")) + \" \" +\n"
      "                 std::string(e.header(\"kubefn-call-state\")) + \" \" +\n"
      "                 std::string(e.header(\"kubefn-call-status\")) + \" \" +\n"
      "                 std::string(e.header(\"kubefn-function\")) + \" body=\" +\n"
      "                 std::string(e.data) + \";\");\n"
      "  return \"thanks\\n\";\n}\nKUBEFN_HANDLER(handle);\n";
  const json one = {{"scaling", {{"minReplicas", 1}, {"maxReplicas", 1}}}};
  json private_one = one;
  private_one["access"] = "private";
  ASSERT_EQ(
      kubectl({"apply", "-f", "-"}, source_function(ns, "worker", worker, private_one)).exit_code,
      0);
  ASSERT_EQ(kubectl({"apply", "-f", "-"}, source_function(ns, "receiver", receiver, one)).exit_code,
            0);
  ASSERT_EQ(wait_condition(ns, "worker", "Ready", "True", "", 240s).value("status", ""), "True")
      << get_function(ns, "worker").dump(2);
  ASSERT_EQ(wait_condition(ns, "receiver", "Ready", "True", "", 240s).value("status", ""), "True")
      << get_function(ns, "receiver").dump(2);

  // The callback goes to the gateway's Service, by its cluster DNS name (the chart's
  // kubefn.gatewayUrl), as a function inside the cluster would give it.
  const json svc = kubectl_json({"-n", kSystemNamespace, "get", "service", "kubefn-gateway"});
  ASSERT_TRUE(svc.is_object());
  const std::string callback =
      "http://kubefn-gateway." + std::string(kSystemNamespace) +
      ".svc.cluster.local:" + std::to_string(svc["spec"]["ports"][0].value("port", 0)) + "/" + ns +
      "/receiver/";
  const std::string auth = "Authorization: Bearer " + gateway_token();
  const std::string queue = gateway_url() + "/async/" + ns + "/worker/";
  // Queuing needs what calling needs; a callback must be http://.
  EXPECT_EQ(curl(queue, {}, "POST", "job-1").status, 401);
  EXPECT_EQ(
      curl(queue, {auth, "X-Callback-Url: https://receiver.example/"}, "POST", "job-1").status,
      400);

  const auto queued_at = std::chrono::steady_clock::now();
  const Reply accepted = curl(queue, {auth, "X-Callback-Url: " + callback}, "POST", "job-1");
  ASSERT_EQ(accepted.status, 202) << accepted.body << "\n" << release_logs();
  const json answer = json::parse(accepted.body, nullptr, false);
  ASSERT_TRUE(answer.is_object()) << accepted.body;
  const std::string id = answer.value("id", "");
  ASSERT_EQ(id.size(), 32u) << accepted.body;
  EXPECT_EQ(answer.value("state", ""), "queued");
  const std::string location = "/async/" + ns + "/worker/calls/" + id;
  EXPECT_EQ(answer.value("location", ""), location);

  json state;
  EXPECT_TRUE(wait_until(
      [&] {
        const Reply r = curl(gateway_url() + location, {auth});
        if (r.status != 200) return false;
        state = json::parse(r.body, nullptr, false);
        return state.is_object() && state.value("state", "") == "succeeded" &&
               state.contains("callback");
      },
      120s, 1s))
      << state.dump() << "\n"
      << release_logs();
  const auto took = std::chrono::steady_clock::now() - queued_at;
  EXPECT_EQ(state.value("id", ""), id);
  EXPECT_EQ(state.value("state", ""), "succeeded") << state.dump();
  EXPECT_EQ(state.value("status", 0), 200) << state.dump();
  EXPECT_EQ(state.value("result", ""), "worked job-1") << state.dump();
  // At least once: a delivery the dispatcher took and never finished (seen once on this node:
  // attempt 1 never reached the handler, attempt 2 came after the 30 s ack wait) counts too.
  EXPECT_GE(state.value("attempts", 0), 1) << state.dump();
  EXPECT_EQ(state.value("callbackUrl", ""), callback) << state.dump();
  EXPECT_EQ(state.value("callback", ""), "delivered") << state.dump();
  std::cout << "asynchronous call queued, run and called back in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  // Without the token its state is not shown.
  EXPECT_EQ(curl(gateway_url() + location).status, 401);

  // The worker ran it once, without the caller's credential; the receiver got the outcome.
  static const std::regex work("work ([0-9a-f]{32}) (clean|LEAK)");
  std::vector<std::vector<std::string>> runs;
  EXPECT_TRUE(wait_until(
      [&] {
        runs = log_matches(ns, "worker", work);
        return !runs.empty();
      },
      60s, 1s));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0][0], id);
  EXPECT_EQ(runs[0][1], "clean") << "a caller's credential reached the function";
  static const std::regex called("callback ([0-9a-f]{32}) (\\S+) (\\S+) (\\S+) body=([^;]*);");
  std::vector<std::vector<std::string>> callbacks;
  EXPECT_TRUE(wait_until(
      [&] {
        callbacks = log_matches(ns, "receiver", called);
        return !callbacks.empty();
      },
      60s, 1s));
  ASSERT_EQ(callbacks.size(), 1u);
  EXPECT_EQ(callbacks[0][0], id);
  EXPECT_EQ(callbacks[0][1], "succeeded");
  EXPECT_EQ(callbacks[0][2], "200");
  EXPECT_EQ(callbacks[0][3], ns + "/worker");
  EXPECT_EQ(callbacks[0][4], "worked job-1");
  kubectl({"delete", "namespace", ns, "--wait=false"});
}

// After every other test (a fixture cleanup): helm uninstall takes every object of the
// release; the Function CRD stays, as helm keeps the CRDs a chart installs.
TEST(NodeUninstall, HelmUninstallLeavesNothingOfTheRelease) {
  if (cluster_dir().empty())
    GTEST_FAIL() << "KUBEFN_NODE_CLUSTER_DIR is not set: run under ctest, or set it to a cluster "
                    "of scripts/cluster up --real-node with kubefn installed";
  const CommandResult r =
      run_command({std::string(KUBEFN_SOURCE_DIR) + "/scripts/cluster", "uninstall"},
                  {{"KUBEFN_CLUSTER_DIR", cluster_dir()}}, 300s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string left;
  EXPECT_TRUE(wait_until(
      [&] {
        const CommandResult got = kubectl(
            {"get",
             "pods,deployments,replicasets,services,secrets,configmaps,serviceaccounts,roles,"
             "rolebindings,clusterroles,clusterrolebindings,leases",
             "-A", "-l", "app.kubernetes.io/instance=kubefn", "-o", "name"});
        left = got.out;
        return got.exit_code == 0 && got.out.empty();
      },
      120s, 1s))
      << left;
  const CommandResult pods = kubectl({"-n", kSystemNamespace, "get", "pods", "-o", "name"});
  EXPECT_EQ(pods.out, "");
  EXPECT_EQ(kubectl({"get", "crd", "functions.kubefn.dev"}).exit_code, 0);
}

}  // namespace
}  // namespace kubefn::testing
