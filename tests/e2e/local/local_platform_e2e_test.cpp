// The embedded local platform end to end: `kubefn up` (the real CLI binary) with Function
// manifests; calls through its gateway; the CLI against it; hey as a load generator.
#include <dirent.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "kubefn/kafka/consumer.hpp"
#include "kubefn/kafka/producer.hpp"
#include "kubefn/nats/connection.hpp"
#include "kubefn/nats/jetstream.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/kafka_broker.hpp"
#include "kubefn/testing/metrics_text.hpp"
#include "kubefn/testing/nats_server.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/registry_server.hpp"
#include "kubefn/testing/request_recorder.hpp"
#include "kubefn/testing/source_server.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;

std::string example(const std::string& name) {
  return read_file(std::string(KUBEFN_SOURCE_DIR) + "/examples/" + name + "/function.yaml");
}

std::string kubectl_path() {
  const char* env = std::getenv("KUBEFN_KUBECTL");
  return env != nullptr && *env != '\0' ? env : KUBEFN_DEFAULT_KUBECTL;
}

// The permission bits of a file (-1 when it is not there).
int mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

// Takes a few seconds to compile (the compiler works out a constant), so a stop lands in the
// middle of its build.
const char* kHeavyFunction = R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: heavy
  namespace: default
spec:
  handler: heavy.call
  access: public
  source:
    inline: |
      #include <kubefn/function.hpp>
      #include <string>
      constexpr long spin() {
        long x = 0;
        for (long i = 0; i < 300; ++i)
          for (long j = 0; j < 2000; ++j) x += (i ^ j) & 1;
        return x;
      }
      constexpr long kSpun = spin();
      std::string call(const kubefn::Event&, kubefn::Context&) {
        return std::to_string(kSpun) + "\n";
      }
      KUBEFN_HANDLER(call);
)";

// A function that holds each call for ?ms=N milliseconds.
const char* kSlowFunction = R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: slow
  namespace: default
spec:
  handler: slow.wait
  access: public
  concurrency: 1
  scaling: {minReplicas: 1, maxReplicas: 1}
  source:
    inline: |
      #include <kubefn/function.hpp>
      #include <chrono>
      #include <string>
      #include <thread>
      std::string wait(const kubefn::Event& e, kubefn::Context&) {
        std::string ms(e.query_param("ms"));
        std::this_thread::sleep_for(std::chrono::milliseconds(ms.empty() ? 0 : std::stoi(ms)));
        return "done\n";
      }
      KUBEFN_HANDLER(wait);
)";

// Holds each call 50 ms: in flight follows the callers. A short stable window and a long grace,
// so the test sees the way down to one replica, then zero.
const char* kCycleFunction = R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: cycle
  namespace: default
spec:
  handler: cycle.call
  access: public
  concurrency: 4
  scaling:
    minReplicas: 0
    maxReplicas: 4
    target: 1
    stableWindow: 6
    scaleToZeroGracePeriod: 12
    keepAlive: fixed
  source:
    inline: |
      #include <kubefn/function.hpp>
      #include <chrono>
      #include <string>
      #include <thread>
      std::string call(const kubefn::Event&, kubefn::Context&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return "served\n";
      }
      KUBEFN_HANDLER(call);
)";

// Goes to zero one second after its last call.
const char* kNapFunction = R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: nap
  namespace: default
spec:
  handler: nap.call
  access: public
  scaling: {minReplicas: 0, maxReplicas: 2, scaleToZeroGracePeriod: 1, keepAlive: fixed}
  source:
    inline: |
      #include <kubefn/function.hpp>
      #include <string>
      std::string call(const kubefn::Event&, kubefn::Context&) { return "awake\n"; }
      KUBEFN_HANDLER(call);
)";

// A public Function `name` running examples/hello's greet, with `spec` (its further fields,
// indented as spec's) after the handler and the access.
std::string hello_function(const std::string& name, const std::string& spec) {
  return "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata: {name: " + name +
         ", namespace: default}\nspec:\n  handler: hello.greet\n  access: public\n" + spec;
}

// A process as /proc/PID/stat shows it.
struct ProcessInfo {
  pid_t pid = 0;
  std::string comm;   // the command name
  std::string state;  // "Z": a zombie waiting for its reaper
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

// The processes running now (one that exits while they are listed is left out).
std::vector<ProcessInfo> processes() {
  std::vector<ProcessInfo> out;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    ProcessInfo p;
    p.pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (p.pid <= 0) continue;
    std::string text;
    try {  // it may exit between the listing and the read
      std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
      text.assign(std::istreambuf_iterator<char>(stat), {});
    } catch (const std::exception&) {
      continue;
    }
    const auto open = text.find('(');
    const auto close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open ||
        close + 2 > text.size()) {
      continue;
    }
    p.comm = text.substr(open + 1, close - open - 1);
    std::istringstream rest(text.substr(close + 2));
    rest >> p.state >> p.ppid >> p.pgrp;
    out.push_back(std::move(p));
  }
  ::closedir(d);
  return out;
}

// The children of `parent` whose command name is `comm` ("g++": the compiler of a build).
std::set<pid_t> children_named(pid_t parent, const std::string& comm) {
  std::set<pid_t> out;
  for (const ProcessInfo& p : processes()) {
    if (p.ppid == parent && p.state != "Z" && p.comm == comm) out.insert(p.pid);
  }
  return out;
}

// Whether a process of group `group` still runs (a zombie waiting for its reaper does not).
bool group_running(pid_t group) {
  for (const ProcessInfo& p : processes()) {
    if (p.pgrp == group && p.state != "Z" && p.state != "X") return true;
  }
  return false;
}

// The pids of the runtime replicas `up` runs for `function` (its children).
std::set<pid_t> replica_pids(pid_t parent, const std::string& function) {
  std::set<pid_t> out;
  for (const ProcessInfo& p : processes()) {
    if (p.ppid != parent || p.state == "Z") continue;
    // It may exit before its environment is read: then it is not a replica.
    std::ifstream env("/proc/" + std::to_string(p.pid) + "/environ");
    std::string vars((std::istreambuf_iterator<char>(env)), {});
    if (vars.find(std::string("KUBEFN_FUNCTION_NAME=") + function + '\0') != std::string::npos) {
      out.insert(p.pid);
    }
  }
  return out;
}

// Appends one line per call to $RUNS: the CloudEvent, the Kubeless namespace, the attempt,
// whether a credential reached it, and the body. ?fail: answers 500.
std::string recorder_function(const std::string& name, const std::string& runs,
                              const std::string& triggers, bool fail) {
  return R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: )" +
         name + R"(
  namespace: default
spec:
  handler: rec.call
  env:
    - {name: RUNS, value: ")" +
         runs + R"("}
  scaling: {minReplicas: 1, maxReplicas: 1}
  source:
    inline: |
      #include <cstdlib>
      #include <fstream>
      #include <kubefn/function.hpp>
      #include <string>
      kubefn::Response call(const kubefn::Event& e, kubefn::Context&) {
        const kubefn::CloudEvent& ce = e.cloud_event;
        std::ofstream(std::getenv("RUNS"), std::ios::app)
            << ce.id << " " << ce.type << " " << ce.source << " " << ce.specversion << " "
            << ce.time << " " << e.event_namespace << " " << e.header("kubefn-delivery-attempt")
            << " " << (e.header("authorization").empty() ? "no-credential" : "CREDENTIAL")
            << " " << e.data << std::endl;
        return kubefn::Response{)" +
         (fail ? "500" : "200") + R"(, {}, "done"};
      }
      KUBEFN_HANDLER(call);
  triggers:
)" + triggers;
}

std::vector<std::vector<std::string>> lines_of(const std::string& path) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;)
      w.push_back(x);
    if (!w.empty()) out.push_back(std::move(w));
  }
  return out;
}

// A function behind a queue trigger (`triggers`): records each delivery to $RUNS (`record`,
// the fields it writes before the attempt and the verdict, then the body); a body that is a
// multiple of 10 always fails (poisoned), a multiple of 7 fails its first delivery only.
std::string queue_consumer_function(const std::string& name, const std::string& runs,
                                    const std::string& record, const std::string& triggers) {
  return R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: )" +
         name + R"(
  namespace: default
spec:
  handler: )" +
         name + R"(.take
  concurrency: 8
  env:
    - {name: RUNS, value: ")" +
         runs + R"("}
  scaling: {minReplicas: 0, maxReplicas: 2}
  source:
    inline: |
      #include <cstdlib>
      #include <fstream>
      #include <kubefn/function.hpp>
      #include <mutex>
      #include <string>
      std::mutex mu;
      kubefn::Response take(const kubefn::Event& e, kubefn::Context&) {
        const long k = std::atol(std::string(e.data).c_str());
        const std::string attempt(e.header("kubefn-delivery-attempt"));
        const bool fail = k % 10 == 0 || (k % 7 == 0 && attempt == "1");
        {
          std::lock_guard<std::mutex> lock(mu);
          std::ofstream(std::getenv("RUNS"), std::ios::app)
              << )" +
         record + R"( << " " << attempt << " " << (fail ? "fail" : "ok") << " "
              << e.cloud_event.type << " " << e.data << std::endl;
        }
        return kubefn::Response{fail ? 500 : 200, {}, fail ? "poisoned" : "taken"};
      }
      KUBEFN_HANDLER(take);
  triggers:
)" + triggers;
}

// Lines: id subject attempt verdict type body.
std::string nats_consumer_function(const std::string& runs, const std::string& url) {
  return queue_consumer_function("orders", runs,
                                 "e.cloud_event.id << \" \" << e.cloud_event.subject",
                                 R"(    nats:
      - name: created
        url: )" + url + R"(
        stream: ORDERS
        subject: orders.created
        maxRetries: 2
        retryBackoff: 200ms
)");
}

// Lines: partition#offset attempt verdict type body.
std::string kafka_consumer_function(const std::string& runs, const std::string& brokers) {
  return queue_consumer_function("clicks", runs, "e.cloud_event.subject", R"(    kafka:
      - name: clicks
        bootstrapServers: ")" + brokers + R"("
        topic: clicks
        maxRetries: 2
        retryBackoff: 100ms
)");
}

// A queue consumer function's RUNS file: how many deliveries of each body it answered 2xx (the
// verdict in column `verdict`, the body last, two columns after it).
std::map<std::string, int> successes(const std::string& runs, std::size_t verdict) {
  std::map<std::string, int> ok;
  for (const auto& w : lines_of(runs)) {
    if (w.size() == verdict + 3 && w[verdict] == "ok") ++ok[w.back()];
  }
  return ok;
}

// Every body from 1 to `to` that is not poisoned (a multiple of 10) was answered 2xx.
bool all_good_delivered(const std::map<std::string, int>& ok, int to) {
  for (int k = 1; k <= to; ++k) {
    if (k % 10 != 0 && ok.count(std::to_string(k)) == 0) return false;
  }
  return true;
}

// A broker of the test's own with the topic clicks (3 partitions) and clicks.deadletter, and a
// producer of records k (value k, key user-<k % 5>).
struct ClicksTopic {
  KafkaBroker broker{KUBEFN_KAFKA_LIBS};
  std::unique_ptr<kafka::Producer> producer;

  void open() {
    broker.create_topic("clicks", 3);
    broker.create_topic("clicks.deadletter", 1);
    kafka::ProducerConfig pc;
    pc.client.bootstrap_servers = broker.bootstrap_servers();
    auto made = kafka::make_producer(pc);
    ASSERT_TRUE(made.ok()) << made.status().message();
    producer = std::move(made).value();
  }
  void produce(int from, int to) {
    for (int k = from; k <= to; ++k) {
      kafka::OutgoingMessage m;
      m.topic = "clicks";
      m.key = "user-" + std::to_string(k % 5);
      m.value = std::to_string(k);
      auto r = producer->produce(m);
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
  }
  // A consumer of the dead letters, in a group of its own.
  kafka::Result<std::unique_ptr<kafka::Consumer>> dead_letter_reader() {
    kafka::ConsumerConfig probe;
    probe.client.bootstrap_servers = broker.bootstrap_servers();
    probe.group_id = "probe";
    auto reader = kafka::make_consumer(probe);
    if (!reader.ok()) return reader;
    if (auto st = reader.value()->subscribe({"clicks.deadletter"}); !st.ok()) return st;
    return reader;
  }
};

class LocalPlatformE2E : public ::testing::Test {
 protected:
  // Starts `kubefn up` on a directory holding `manifests` (and only them), with `extra_env`
  // added to its environment.
  void start(const std::vector<std::pair<std::string, std::string>>& manifests,
             std::vector<std::string> extra = {},
             const std::map<std::string, std::string>& extra_env = {}) {
    const std::string fns = dir_.file("functions");
    std::filesystem::remove_all(fns);
    std::filesystem::create_directories(fns);
    for (const auto& [name, text] : manifests)
      write_file(fns + "/" + name + ".yaml", text);
    std::vector<std::string> argv = {KUBEFN_CLI_BIN,   "up", fns,         "--gateway-port",  "0",
                                     "--metrics-port", "0",  "--runtime", KUBEFN_RUNTIME_BIN};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto environment = env();
    environment.insert(extra_env.begin(), extra_env.end());
    std::filesystem::remove(dir_.file("up.out"));
    std::filesystem::remove(dir_.file("up.err"));
    up_ =
        std::make_unique<ChildProcess>(argv, environment, dir_.file("up.out"), dir_.file("up.err"));
  }

  // Starts `kubefn up` on a directory holding `manifests`; returns once it printed its URL.
  void up(const std::vector<std::pair<std::string, std::string>>& manifests,
          std::vector<std::string> extra = {},
          const std::map<std::string, std::string>& extra_env = {}) {
    start(manifests, std::move(extra), extra_env);
    gateway_ = 0;
    ASSERT_TRUE(wait_until(
        [&] {
          const std::string out = read_file(dir_.file("up.out"));
          std::smatch m;
          static const std::regex gw("kubefn: gateway http://127\\.0\\.0\\.1:([0-9]+)");
          static const std::regex mx("kubefn: metrics http://127\\.0\\.0\\.1:([0-9]+)");
          if (!std::regex_search(out, m, gw)) return !up_->running();
          gateway_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          if (std::regex_search(out, m, mx)) metrics_ = static_cast<std::uint16_t>(std::stoi(m[1]));
          return true;
        },
        seconds(180), std::chrono::milliseconds(50)))
        << log();
    ASSERT_NE(gateway_, 0) << log();
  }

  std::map<std::string, std::string> env() const { return {{"KUBEFN_HOME", dir_.file("home")}}; }
  std::string home(const std::string& file) const { return dir_.file("home") + "/" + file; }
  std::string log() const { return read_file(dir_.file("up.err")); }
  std::string token() const {
    std::string t = read_file(dir_.file("home") + "/token");
    while (!t.empty() && t.back() == '\n')
      t.pop_back();
    return t;
  }
  // SIGTERM to `kubefn up`; its exit code, or nullopt when it did not stop within a minute.
  std::optional<int> stop() {
    up_->signal(SIGTERM);
    return up_->wait_exit(seconds(60));
  }
  // Whether GET `target` answers 200 within two minutes (the function built and serving);
  // `last` gets the last reply.
  bool answers(const std::string& target, std::optional<HttpReply>* last = nullptr) {
    std::optional<HttpReply> reply;
    const bool ok = wait_until(
        [&] {
          reply = call("GET", target);
          return reply && reply->status == 200;
        },
        seconds(120), std::chrono::milliseconds(100));
    if (last != nullptr) *last = std::move(reply);
    return ok;
  }
  CommandResult kubefn(std::vector<std::string> args, const std::string& stdin_text = {}) {
    args.insert(args.begin(), KUBEFN_CLI_BIN);
    return run_command(args, env(), seconds(60), stdin_text);
  }
  std::optional<HttpReply> call(
      const std::string& method, const std::string& target, const std::string& body = {},
      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    HttpConnection c(gateway_);
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers)
      req += k + ": " + v + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (!c.send(req)) return std::nullopt;
    return c.read_reply(seconds(30));
  }
  // hey's count of each status code, and whether it saw transport errors.
  std::map<int, int> hey(const std::string& target, const std::string& duration, int workers,
                         bool* errors) {
    auto r = run_command({"hey", "-z", duration, "-c", std::to_string(workers),
                          "http://127.0.0.1:" + std::to_string(gateway_) + target},
                         {}, seconds(120));
    std::map<int, int> codes;
    static const std::regex line("\\[([0-9]{3})\\]\\s+([0-9]+) responses");
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), line), end; it != end; ++it) {
      codes[std::stoi((*it)[1])] += std::stoi((*it)[2]);
    }
    *errors = r.out.find("Error distribution") != std::string::npos;
    return codes;
  }

  // The URL up.json gives for the API.
  std::string api_url() const {
    return json::parse(read_file(home("up.json")), nullptr, false).value("api", "");
  }
  // One request to the platform's API over TLS, trusting only the CA its kubeconfig holds:
  // the status (0 when curl failed: err says why) and the body.
  HttpReply api(const std::string& method, const std::string& path,
                const std::vector<std::string>& headers, const std::string& body = {}) {
    const std::string ca = dir_.file("api-ca.pem");
    if (!std::filesystem::exists(ca)) {
      std::smatch m;
      const std::string kubeconfig = read_file(home("kubeconfig"));
      if (std::regex_search(kubeconfig, m, std::regex("certificate-authority-data: (\\S+)"))) {
        write_file(ca, run_command({"base64", "-d"}, {}, seconds(10), m[1].str()).out);
      }
    }
    std::vector<std::string> argv = {"curl", "--silent", "--show-error", "--max-time", "20"};
    argv.insert(argv.end(), {"--cacert", ca, "--request", method, "--output", dir_.file("api.body"),
                             "--write-out", "%{http_code}"});
    for (const auto& h : headers)
      argv.insert(argv.end(), {"--header", h});
    if (!body.empty()) argv.insert(argv.end(), {"--data-binary", body});
    argv.push_back(api_url() + path);
    std::filesystem::remove(dir_.file("api.body"));
    auto r = run_command(argv, {}, seconds(30));
    HttpReply reply;
    reply.status = r.exit_code == 0 ? std::atoi(r.out.c_str()) : 0;
    reply.body = r.exit_code == 0 ? read_file(dir_.file("api.body")) : r.err;
    return reply;
  }
  CommandResult kubectl(std::vector<std::string> args) {
    std::vector<std::string> argv = {kubectl_path(), "--kubeconfig", home("kubeconfig"),
                                     "--cache-dir", dir_.file("kube-cache")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {{"KUBECONFIG", ""}}, seconds(60));
  }

  void TearDown() override {
    if (up_ && up_->running()) {
      EXPECT_TRUE(stop().has_value()) << "kubefn up did not stop";
    }
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> up_;
  std::uint16_t gateway_ = 0;
  std::uint16_t metrics_ = 0;
};

TEST_F(LocalPlatformE2E, ExamplesAnswerThroughTheGatewayWithAccessRules) {
  up({{"hello", example("hello")}, {"echo", example("echo")}});
  auto hello = call("GET", "/default/hello?name=local");
  ASSERT_TRUE(hello.has_value()) << log();
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "hello local\n");
  // The paths the examples declare (spec.triggers.http.path) reach them too, with the same
  // access rules as their own routes.
  auto by_path = call("GET", "/hello/?name=path");
  ASSERT_TRUE(by_path.has_value()) << log();
  EXPECT_EQ(by_path->status, 200);
  EXPECT_EQ(by_path->body, "hello path\n");
  auto echo_path = call("POST", "/echo", "{}");
  ASSERT_TRUE(echo_path.has_value());
  EXPECT_EQ(echo_path->status, 401);
  echo_path = call("POST", "/echo", R"({"p":1})", {{"Authorization", "Bearer " + token()}});
  ASSERT_TRUE(echo_path.has_value());
  EXPECT_EQ(echo_path->status, 200);
  EXPECT_EQ(echo_path->body, R"({"p":1})");

  // echo is private: no token 401, a wrong one 403, the platform's own 200.
  auto none = call("POST", "/default/echo", "{}");
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->status, 401);
  auto wrong = call("POST", "/default/echo", "{}", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 403);
  auto right =
      call("POST", "/default/echo", R"({"n":1})", {{"Authorization", "Bearer " + token()}});
  ASSERT_TRUE(right.has_value());
  EXPECT_EQ(right->status, 200);
  EXPECT_EQ(right->body, R"({"n":1})");
  auto unknown = call("GET", "/default/nobody");
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 404);

  // The CLI finds the platform by its state file.
  auto invoked = kubefn({"invoke", "hello", "-n", "default", "--path", "/", "-X", "GET"});
  EXPECT_EQ(invoked.exit_code, 0) << invoked.err;
  EXPECT_NE(invoked.out.find("hello world"), std::string::npos) << invoked.out;
  auto listed = kubefn({"list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("hello"), std::string::npos);
  EXPECT_NE(listed.out.find("True"), std::string::npos) << listed.out;

  // The runtime's own metrics, labelled by function, on the platform's metrics port.
  ASSERT_NE(metrics_, 0);
  auto m = http_request(metrics_, "GET", "/metrics");
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->body.find("function_calls_total{namespace=\"default\",function=\"hello\""),
            std::string::npos);
  EXPECT_NE(m->body.find("kubefn_gateway_requests_total{code=\"401\",function=\"echo\""),
            std::string::npos);
}

TEST_F(LocalPlatformE2E, SourceUpdateSwapsReplicasWithNoFailedRequest) {
  up({{"hello", example("hello")}});
  const std::string yaml = example("hello");
  std::string changed = std::regex_replace(yaml, std::regex("\"hello \""), "\"howdy \"");
  ASSERT_NE(changed, yaml);
  std::map<int, int> codes;
  bool errors = false;
  std::thread load([&] { codes = hey("/default/hello", "8s", 4, &errors); });
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the load runs before the edit
  auto applied = kubefn({"apply", "-f", "-"}, changed);
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_TRUE(wait_until(
      [&] {
        auto r = call("GET", "/default/hello");
        return r && r->body == "howdy world\n";
      },
      seconds(60), std::chrono::milliseconds(50)))
      << log();
  load.join();
  EXPECT_FALSE(errors);
  ASSERT_GT(codes[200], 0);
  EXPECT_EQ(codes.size(), 1u) << "a call failed during the swap";
}

TEST_F(LocalPlatformE2E, UrlSourceIsFetchedCheckedBuiltAndAnswers) {
  SourceServer server;
  ASSERT_TRUE(server.ok());
  const std::string path = std::string(KUBEFN_SOURCE_DIR) + "/examples/hello/hello.cpp";
  server.set("/hello.cpp", {200, read_file(path), {}, false});
  auto summed = run_command({"sha256sum", path});
  ASSERT_EQ(summed.exit_code, 0) << summed.err;
  const std::string sha = summed.out.substr(0, 64);
  auto manifest = [&](const std::string& name, const std::string& sha256) {
    return hello_function(
        name, "  source: {url: \"" + server.url("/hello.cpp") + "\", sha256: " + sha256 + "}\n");
  };
  up({{"fetched", manifest("fetched", sha)}, {"wrong", manifest("wrong", std::string(64, 'a'))}});
  std::optional<HttpReply> reply;
  EXPECT_TRUE(answers("/default/fetched?name=url", &reply)) << log();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->body, "hello url\n");

  // The wrong sha256 is reported with the one served, and nothing runs for it.
  CommandResult described;
  EXPECT_TRUE(wait_until(
      [&] {
        described = kubefn({"describe", "wrong", "-n", "default"});
        return described.out.find("SourceDigestMismatch") != std::string::npos;
      },
      seconds(30), std::chrono::milliseconds(100)))
      << described.out << described.err;
  EXPECT_NE(described.out.find(sha), std::string::npos) << described.out;
  auto wrong = call("GET", "/default/wrong");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_NE(wrong->status, 200);
  EXPECT_TRUE(replica_pids(up_->pid(), "wrong").empty());
}

// The same controller checks the spec on `kubefn up` as on a cluster. The CLI refuses a memory
// limit that is not a quantity before sending it; sent through the API by kubectl, it is a
// condition, no replica runs for it, and fixing it makes it serve.
TEST_F(LocalPlatformE2E, ResourceThatIsNotAQuantityIsAConditionAndNeverReady) {
  auto manifest = [](const std::string& memory) {
    return hello_function(
        "greedy", "  resources: {limits: {memory: \"" + memory +
                      "\"}}\n  source:\n    inline: |\n" +
                      std::regex_replace(
                          read_file(std::string(KUBEFN_SOURCE_DIR) + "/examples/hello/hello.cpp"),
                          std::regex("(^|\n)(.)"), "$1      $2"));
  };
  const std::string message =
      "spec.resources.limits.memory: \"lots\" is not a quantity (for example 128Mi)";
  up({{"hello", example("hello")}});
  auto refused = kubefn({"apply", "-f", "-"}, manifest("lots"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("InvalidResources: " + message), std::string::npos) << refused.err;

  write_file(dir_.file("greedy.yaml"), manifest("lots"));
  auto applied = kubectl({"apply", "-f", dir_.file("greedy.yaml")});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  // The Function as the platform's API holds it, once its status is for this generation.
  auto current = [&](json* fn) {
    auto got = kubectl({"get", "function", "greedy", "-o", "json"});
    *fn = json::parse(got.out, nullptr, false);
    return fn->is_object() && fn->contains("status") &&
           (*fn)["status"].value("observedGeneration", 0) ==
               (*fn)["metadata"].value("generation", -1);
  };
  auto ready = [](const json& fn) {
    for (const auto& c : fn["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "Ready") return c;
    }
    return json::object();
  };
  json fn;
  ASSERT_TRUE(wait_until([&] { return current(&fn) && !ready(fn).empty(); }, seconds(30),
                         std::chrono::milliseconds(100)))
      << fn.dump() << log();
  EXPECT_EQ(ready(fn).value("status", ""), "False");
  EXPECT_EQ(ready(fn).value("reason", ""), "InvalidResources");
  EXPECT_EQ(ready(fn).value("message", ""), message);
  // A verdict on the spec, not a step on the way: nothing runs or answers for it.
  EXPECT_TRUE(replica_pids(up_->pid(), "greedy").empty());
  auto call_refused = call("GET", "/default/greedy");
  ASSERT_TRUE(call_refused.has_value());
  EXPECT_NE(call_refused->status, 200);

  write_file(dir_.file("greedy.yaml"), manifest("64Mi"));
  auto fixed = kubectl({"apply", "-f", dir_.file("greedy.yaml")});
  ASSERT_EQ(fixed.exit_code, 0) << fixed.err;
  std::optional<HttpReply> reply;
  EXPECT_TRUE(answers("/default/greedy?name=fixed", &reply)) << log();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->body, "hello fixed\n");
  EXPECT_TRUE(wait_until([&] { return current(&fn) && ready(fn).value("status", "") == "True"; },
                         seconds(30), std::chrono::milliseconds(100)))
      << fn.dump();
}

TEST_F(LocalPlatformE2E, KilledReplicaIsRestarted) {
  up({{"hello", example("hello")}});
  std::set<pid_t> before = replica_pids(up_->pid(), "hello");
  ASSERT_EQ(before.size(), 1u);
  ::kill(*before.begin(), SIGKILL);
  EXPECT_TRUE(wait_until(
      [&] {
        auto now = replica_pids(up_->pid(), "hello");
        if (now.empty() || now == before) return false;
        auto r = call("GET", "/default/hello");
        return r && r->status == 200;
      },
      seconds(30), std::chrono::milliseconds(50)))
      << log();
}

TEST_F(LocalPlatformE2E, ConcurrencyLimitQueuesThenAnswers429) {
  up({{"slow", kSlowFunction}}, {"--queue-limit", "2"});
  // One call runs (concurrency 1 x 1 replica), two wait, the rest are turned away at once.
  std::vector<std::thread> callers;
  std::mutex mu;
  std::map<int, int> codes;
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&] {
      auto r = call("GET", "/default/slow?ms=1500");
      std::lock_guard<std::mutex> lock(mu);
      ++codes[r ? r->status : 0];
    });
  }
  for (auto& t : callers)
    t.join();
  EXPECT_EQ(codes[200], 3) << log();
  EXPECT_EQ(codes[429], 3);
}

TEST_F(LocalPlatformE2E, LoadScalesUpAndDeleteStopsTheReplicas) {
  up({{"hello", example("hello")}});
  bool errors = false;
  // hello's target is 50 calls in flight per replica: 150 callers need more than one.
  auto codes = hey("/default/hello", "8s", 150, &errors);
  EXPECT_FALSE(errors);
  EXPECT_EQ(codes.size(), 1u);
  EXPECT_GT(replica_pids(up_->pid(), "hello").size(), 1u) << log();
  EXPECT_NE(log().find("default/hello scaled 1 -> "), std::string::npos) << log();

  auto deleted = kubefn({"delete", "hello", "-n", "default"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(wait_until([&] { return replica_pids(up_->pid(), "hello").empty(); }, seconds(30)))
      << log();
  auto gone = call("GET", "/default/hello");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->status, 404);
}

TEST_F(LocalPlatformE2E, LoadUpThenBackToOneThenZeroThenACallIsServedWithNoFailure) {
  up({{"cycle", kCycleFunction}});
  std::vector<std::size_t> seen;  // replica counts, in order, without repeats
  auto observe = [&] {
    const std::size_t n = replica_pids(up_->pid(), "cycle").size();
    if (seen.empty() || seen.back() != n) seen.push_back(n);
    return n;
  };
  auto trace = [&] {
    std::string t;
    for (auto n : seen)
      t += std::to_string(n) + " ";
    return t;
  };
  ASSERT_TRUE(wait_until([&] { return observe() >= 1; }, seconds(60))) << log();

  // 8 callers against a target of 1 in flight per replica: up to maxReplicas.
  std::map<int, int> codes;
  bool errors = false;
  std::atomic<bool> done{false};
  std::thread load([&] {
    codes = hey("/default/cycle", "6s", 8, &errors);
    done = true;
  });
  std::size_t peak = 0;
  wait_until(
      [&] {
        peak = std::max(peak, observe());
        return done.load();
      },
      seconds(120), std::chrono::milliseconds(50));
  load.join();
  EXPECT_FALSE(errors);
  EXPECT_EQ(codes.size(), 1u);
  EXPECT_GT(codes[200], 0);
  EXPECT_GE(peak, 2u) << trace() << log();

  // The load stops: back to one replica (the windows), then zero (after the grace).
  EXPECT_TRUE(
      wait_until([&] { return observe() == 0; }, seconds(60), std::chrono::milliseconds(50)))
      << trace() << log();
  const auto top = std::find(seen.begin(), seen.end(), peak);
  EXPECT_NE(std::find(top, seen.end(), std::size_t{1}), seen.end())
      << "never at one replica on the way down: " << trace();
  EXPECT_EQ(seen.back(), 0u) << trace();

  // A call at zero waits for a replica and is served.
  auto r = call("GET", "/default/cycle");
  ASSERT_TRUE(r.has_value()) << log();
  EXPECT_EQ(r->status, 200) << r->body << log();
  EXPECT_EQ(r->body, "served\n");
  EXPECT_NE(log().find("default/cycle scaled 0 -> 1"), std::string::npos) << log();

  // The autoscaler's metrics follow: one replica wanted, and one ready.
  std::string text;
  EXPECT_TRUE(wait_until(
      [&] {
        auto m = http_request(metrics_, "GET", "/metrics");
        if (!m) return false;
        text = m->body;
        const std::string labels = "{function=\"cycle\",namespace=\"default\"}";
        return metric_value(text, "kubefn_autoscaler_desired_replicas" + labels) == 1.0 &&
               metric_value(text, "kubefn_autoscaler_actual_replicas" + labels) == 1.0 &&
               metric_value(text, "kubefn_autoscaler_observed_load" + labels).has_value();
      },
      seconds(10)))
      << text;
}

TEST_F(LocalPlatformE2E, IdleFunctionScalesToZeroAndACallBringsItBack) {
  up({{"nap", kNapFunction}});
  ASSERT_TRUE(wait_until([&] { return replica_pids(up_->pid(), "nap").empty(); }, seconds(60)))
      << log();
  for (int round = 0; round < 2; ++round) {
    auto r = call("GET", "/default/nap");  // waits at the gateway for the first replica
    ASSERT_TRUE(r.has_value()) << log();
    EXPECT_EQ(r->status, 200) << r->body << log();
    EXPECT_EQ(r->body, "awake\n");
    EXPECT_TRUE(wait_until([&] { return replica_pids(up_->pid(), "nap").empty(); }, seconds(60)))
        << "round " << round << ": back to zero\n"
        << log();
  }
  EXPECT_NE(log().find("default/nap scaled 0 -> 1"), std::string::npos) << log();
  auto described = kubefn({"describe", "nap", "-n", "default"});
  EXPECT_NE(described.out.find("Scaled"), std::string::npos) << described.out;
  // The Function's status says the last scale and why: back to zero after the keep-alive.
  EXPECT_TRUE(wait_until(
      [&] {
        described = kubefn({"describe", "nap", "-n", "default"});
        return described.out.find("Last scale:   to 0 at ") != std::string::npos;
      },
      seconds(10)))
      << described.out;
  EXPECT_NE(described.out.find("keep-alive"), std::string::npos) << described.out;
}

TEST_F(LocalPlatformE2E, ContainerModeRunsTheBuiltImageUnderPodman) {
  RegistryServer registry;
  ASSERT_TRUE(registry.started()) << registry.error();
  up({{"hello", example("hello")}}, {"--containers", "--registry", registry.host() + "/kubefn"});
  auto hello = call("GET", "/default/hello?name=container");
  ASSERT_TRUE(hello.has_value()) << log();
  EXPECT_EQ(hello->status, 200) << log();
  EXPECT_EQ(hello->body, "hello container\n");
  // The replica is a container of the pushed image, not a local process.
  EXPECT_TRUE(replica_pids(up_->pid(), "hello").empty());
  auto ps = run_command({"podman", "ps", "--format", "{{.Image}} {{.Names}}"}, {}, seconds(60));
  EXPECT_NE(ps.out.find(registry.host() + "/kubefn/default/hello@sha256:"), std::string::npos)
      << ps.out << ps.err;
  auto described = kubefn({"describe", "hello", "-n", "default"});
  EXPECT_NE(described.out.find(registry.host() + "/kubefn/default/hello@sha256:"),
            std::string::npos)
      << described.out;
}

TEST_F(LocalPlatformE2E, AFunctionAppliedThroughTheApiSurvivesARestart) {
  // The folder holds greeter (hello under another name: the same source, one compile); hello
  // itself only ever goes through the API.
  std::string greeter =
      std::regex_replace(example("hello"), std::regex("name: hello"), "name: greeter");
  greeter =
      std::regex_replace(greeter, std::regex("  triggers:\n    http:\n      path: /hello\n"), "");
  ASSERT_NE(greeter.find("name: greeter"), std::string::npos);
  up({{"greeter", greeter}});
  auto applied = kubefn({"apply", "-f", "-"}, example("hello"));
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  ASSERT_TRUE(answers("/default/hello?name=first")) << log();
  const auto function = [&](const std::string& name) -> std::optional<json> {
    auto r = api("GET", "/apis/kubefn.dev/v1alpha1/namespaces/default/functions/" + name,
                 {"Authorization: Bearer " + token()});
    if (r.status != 200) return std::nullopt;
    return json::parse(r.body);
  };
  const auto before = function("hello");
  ASSERT_TRUE(before.has_value());
  // Deleted with the CLI: it comes back at the next start, the folder's files are re-applied.
  auto deleted = kubefn({"delete", "greeter", "-n", "default"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  ASSERT_TRUE(wait_until([&] { return !function("greeter").has_value(); }, seconds(30)));

  auto code = stop();
  ASSERT_TRUE(code.has_value());
  ASSERT_EQ(*code, 0) << log();
  up({{"greeter", greeter}});
  std::filesystem::remove(dir_.file("api-ca.pem"));  // the API has a new certificate
  const auto after = function("hello");
  ASSERT_TRUE(after.has_value()) << "the Function applied through the API is gone\n" << log();
  EXPECT_EQ(after->at("metadata").at("uid"), before->at("metadata").at("uid"));
  EXPECT_EQ(after->at("metadata").at("creationTimestamp"),
            before->at("metadata").at("creationTimestamp"));
  EXPECT_GE(std::stoull(after->at("metadata").at("resourceVersion").get<std::string>()),
            std::stoull(before->at("metadata").at("resourceVersion").get<std::string>()));
  EXPECT_EQ(after->at("spec"), before->at("spec"));
  // It runs again: the gateway routes to it and a call brings up its replica.
  EXPECT_TRUE(answers("/default/hello?name=again")) << log();
  auto again = call("GET", "/default/hello?name=again");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->body, "hello again\n");
  EXPECT_TRUE(function("greeter").has_value());
  EXPECT_TRUE(answers("/default/greeter")) << log();
}

TEST_F(LocalPlatformE2E, StopsItsReplicasOnSigterm) {
  up({{"hello", example("hello")}});
  ASSERT_EQ(replica_pids(up_->pid(), "hello").size(), 1u);
  const pid_t replica = *replica_pids(up_->pid(), "hello").begin();
  auto code = stop();
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << log();
  EXPECT_TRUE(wait_until([&] { return ::kill(replica, 0) != 0; }, seconds(10)));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("home") + "/up.json"));
}

TEST_F(LocalPlatformE2E, ApiAsksForTheTokenOverTlsAndKubectlUsesItsKubeconfig) {
  // A token left readable by others (an older kubefn wrote it so) is made private, and kept.
  std::filesystem::create_directories(dir_.file("home"));
  write_file(home("token"), "kept-token-1234\n");
  ::chmod(home("token").c_str(), 0644);
  up({{"hello", example("hello")}});
  EXPECT_EQ(token(), "kept-token-1234");
  EXPECT_EQ(mode_of(home("token")), 0600);
  EXPECT_NE(log().find(home("token") + " was readable by others; it is now 0600"),
            std::string::npos)
      << log();

  // up.json names the API (TLS only) and the kubeconfig (0600) with its CA and the token.
  const json state = json::parse(read_file(home("up.json")), nullptr, false);
  ASSERT_TRUE(state.is_object()) << read_file(home("up.json"));
  const std::string url = state.value("api", "");
  ASSERT_EQ(url.rfind("https://127.0.0.1:", 0), 0u) << url;
  const std::string port = url.substr(url.rfind(':') + 1);
  EXPECT_EQ(state.value("kubeconfig", ""), home("kubeconfig"));
  EXPECT_EQ(mode_of(home("kubeconfig")), 0600);
  const std::string kubeconfig = read_file(home("kubeconfig"));
  EXPECT_NE(kubeconfig.find("server: \"" + url + "\"\n"), std::string::npos) << kubeconfig;
  EXPECT_NE(kubeconfig.find("token: \"kept-token-1234\"\n"), std::string::npos) << kubeconfig;
  EXPECT_NE(read_file(dir_.file("up.out")).find("kubectl --kubeconfig " + home("kubeconfig")),
            std::string::npos);

  const std::string functions = "/apis/kubefn.dev/v1alpha1/namespaces/default/functions";
  const std::string bearer = "Authorization: Bearer " + token();
  // No credential, or a wrong one: 401, as a cluster's API answers.
  auto none = api("GET", functions, {});
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(json::parse(none.body, nullptr, false).value("reason", ""), "Unauthorized");
  auto wrong = api("GET", functions, {"Authorization: Bearer not-the-token"});
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  auto right = api("GET", functions, {bearer});
  ASSERT_EQ(right.status, 200) << right.body;
  EXPECT_NE(right.body.find("\"name\":\"hello\""), std::string::npos) << right.body;

  // Only this machine's names (DNS rebinding: a page's own name resolved to 127.0.0.1).
  auto rebound = api("GET", functions, {bearer, "Host: rebound.example:" + port});
  EXPECT_EQ(rebound.status, 403) << rebound.body;
  const json why = json::parse(rebound.body, nullptr, false);
  EXPECT_EQ(why.value("kind", ""), "Status") << rebound.body;
  EXPECT_EQ(why.value("reason", ""), "Forbidden") << rebound.body;
  EXPECT_NE(why.value("message", "").find("Host \"rebound.example:" + port + "\""),
            std::string::npos)
      << rebound.body;
  EXPECT_EQ(api("GET", functions, {bearer, "Host: localhost:" + port}).status, 200);

  // A body that is not one of the API's media types (what a page can POST without asking).
  const std::string sneaky = R"({"apiVersion":"kubefn.dev/v1alpha1","kind":"Function",)"
                             R"("metadata":{"name":"sneaky"},"spec":{"handler":"a.b"}})";
  auto plain = api("POST", functions, {bearer, "Content-Type: text/plain"}, sneaky);
  EXPECT_EQ(plain.status, 415) << plain.body;
  EXPECT_EQ(json::parse(plain.body, nullptr, false).value("reason", ""), "UnsupportedMediaType")
      << plain.body;
  EXPECT_EQ(api("GET", functions + "/sneaky", {bearer}).status, 404);

  // kubectl with the kubeconfig, and the CLI through up.json.
  auto got = kubectl({"get", "functions"});
  EXPECT_EQ(got.exit_code, 0) << got.err;
  EXPECT_TRUE(std::regex_search(got.out, std::regex("\nhello\\s+True\\s"))) << got.out;
  auto listed = kubefn({"list"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("hello"), std::string::npos) << listed.out;
}

TEST_F(LocalPlatformE2E, SecretsAreCreatedPrivateNotMadeSoAfter) {
  // With a umask that keeps nothing back and chmod refused, a file is only private if it was
  // created so.
  const mode_t before = ::umask(0);
  up({}, {}, {{"LD_PRELOAD", KUBEFN_CHMOD_REFUSED_SO}});
  ::umask(before);
  EXPECT_EQ(mode_of(home("token")), 0600);
  EXPECT_EQ(mode_of(home("kubeconfig")), 0600);
  EXPECT_FALSE(std::filesystem::exists(home("token.tmp")));
  EXPECT_FALSE(std::filesystem::exists(home("kubeconfig.tmp")));
}

TEST_F(LocalPlatformE2E, StopDuringABuildExitsCleanlyAndTheNextStartBuilds) {
  start({{"heavy", kHeavyFunction}});
  // The build has started: the Function's Ready condition says Building and the compiler runs.
  std::set<pid_t> compilers;
  ASSERT_TRUE(wait_until(
      [&] {
        compilers = children_named(up_->pid(), "g++");
        const bool building = log().find("default/heavy: Building") != std::string::npos;
        return (building && !compilers.empty()) || !up_->running();
      },
      seconds(120)))
      << log();
  ASSERT_TRUE(up_->running()) << log();
  auto code = stop();
  ASSERT_TRUE(code.has_value()) << "kubefn up did not stop\n" << log();
  EXPECT_EQ(*code, 0) << log();
  // The compiler and what it started (its process group) went with it; nothing was recorded.
  for (pid_t compiler : compilers) {
    EXPECT_FALSE(group_running(compiler)) << "compiler " << compiler << " outlived kubefn up";
  }
  EXPECT_TRUE(std::filesystem::is_empty(home("builds")));
  EXPECT_FALSE(std::filesystem::exists(home("up.json")));
  EXPECT_FALSE(std::filesystem::exists(home("kubeconfig")));

  // The next start on the same home builds the Function and serves it.
  up({{"heavy", kHeavyFunction}});
  auto r = call("GET", "/default/heavy");
  ASSERT_TRUE(r.has_value()) << log();
  EXPECT_EQ(r->status, 200) << r->body << log();
  EXPECT_EQ(r->body, "300000\n");
}

// Two Functions of byte-identical source share one build, and both are served once it is done
// (each waiting Function is told the build ended, not only the one that started it).
TEST_F(LocalPlatformE2E, FunctionsOfTheSameSourceShareABuildAndAreAllServed) {
  std::string twin = example("hello");
  twin.replace(twin.find("  name: hello\n"), 14, "  name: twin\n");
  twin.replace(twin.find("  triggers:"), twin.find("  access:") - twin.find("  triggers:"), "");
  up({{"hello", example("hello")}, {"twin", twin}});
  auto a = call("GET", "/default/hello?name=a");
  auto b = call("GET", "/default/twin?name=b");
  ASSERT_TRUE(a && b) << log();
  EXPECT_EQ(a->status, 200) << log();
  EXPECT_EQ(b->status, 200) << log();
  EXPECT_EQ(b->body, "hello b\n");
}

// Every call and every replica second is metered on the metrics port; `kubefn cost` prices them
// (here a price per call set by flag); the totals survive a restart of `kubefn up`, and
// `kubefn cost` reads them while it is down; a price sheet it cannot read stops it with why.
TEST_F(LocalPlatformE2E, CallsAndReplicaTimeAreMeteredPricedAndSurviveARestart) {
  up({{"hello", example("hello")}}, {"--price", "requestsPerMillion=1000000"});
  for (int i = 0; i < 5; ++i) {
    auto r = call("GET", "/default/hello?name=cost");
    ASSERT_TRUE(r && r->status == 200) << log();
  }
  const std::string success =
      "kubefn_function_invocations_total{namespace=\"default\",function=\"hello\","
      "outcome=\"success\"}";
  auto metric = [&](const std::string& series) {
    auto m = http_request(metrics_, "GET", "/metrics");
    return m ? metric_value(m->body, series) : std::nullopt;
  };
  ASSERT_TRUE(wait_until([&] { return metric(success) == 5; }, seconds(10))) << log();
  // The replica gauges follow within the meter's tick.
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(
                   "kubefn_function_replicas{namespace=\"default\",function=\"hello\","
                   "state=\"ready\"}") == 1;
      },
      seconds(10)));
  ASSERT_TRUE(wait_until(
      [&] {
        return metric(
                   "kubefn_function_replica_seconds_total{namespace=\"default\","
                   "function=\"hello\",state=\"idle\"}")
                   .value_or(0) > 0;
      },
      seconds(10)));

  auto cost = kubefn({"cost", "hello", "-o", "json"});
  ASSERT_EQ(cost.exit_code, 0) << cost.err;
  auto report = json::parse(cost.out);
  ASSERT_EQ(report["functions"].size(), 1u) << cost.out;
  const json& hello = report["functions"][0];
  EXPECT_EQ(hello["invocations"]["success"], 5);
  EXPECT_NEAR(hello["cost"]["requests"].get<double>(), 5.0, 1e-9);  // $1 per call
  EXPECT_GT(hello["replica_seconds"]["idle"].get<double>(), 0);
  EXPECT_GT(hello["gb_seconds"].get<double>(), 0);
  EXPECT_GT(hello["lambda_cost"].get<double>(), 0);
  auto table = kubefn({"cost"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("hello"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("TOTAL"), std::string::npos) << table.out;
  auto unknown = kubefn({"cost", "nobody"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("nobody"), std::string::npos) << unknown.err;
  auto bad_window = kubefn({"cost", "--since", "soon"});
  EXPECT_NE(bad_window.exit_code, 0);
  EXPECT_NE(bad_window.err.find("--since"), std::string::npos) << bad_window.err;

  ASSERT_EQ(stop(), 0) << log();
  // Down: the figures as it left them.
  auto offline = kubefn({"cost", "hello", "-o", "json"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(json::parse(offline.out)["functions"][0]["invocations"]["success"], 5);

  // Up again on the same home: the counters carry on from where they were.
  up({{"hello", example("hello")}});
  EXPECT_EQ(metric(success), 5);
  auto r = call("GET", "/default/hello?name=again");
  ASSERT_TRUE(r && r->status == 200) << log();
  EXPECT_TRUE(wait_until([&] { return metric(success) == 6; }, seconds(10)));
  ASSERT_EQ(stop(), 0) << log();

  start({{"hello", example("hello")}}, {"--prices", dir_.file("no-such-prices.yaml")});
  const auto code = up_->wait_exit(seconds(60));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(log().find("no-such-prices.yaml"), std::string::npos) << log();
}

TEST_F(LocalPlatformE2E, SchedulesCallThroughTheGatewayOnceEachAcrossARestart) {
  const std::string runs = dir_.file("tick.runs");
  const std::string failed = dir_.file("flaky.runs");
  const std::vector<std::pair<std::string, std::string>> fns = {
      {"tick", recorder_function("tick", runs, R"(    schedules:
      - name: every-2s
        schedule: "@every 2s"
        payload: {count: 1}
)",
                                 false)},
      {"flaky", recorder_function("flaky", failed, R"(    schedules:
      - name: hourly
        schedule: "@every 3s"
        maxRetries: 1
        retryBackoff: 100ms
)",
                                  true)}};
  ASSERT_NO_FATAL_FAILURE(up(fns));
  ASSERT_TRUE(wait_until([&] { return lines_of(runs).size() >= 3; }, seconds(120))) << log();
  for (const auto& w : lines_of(runs)) {
    ASSERT_EQ(w.size(), 9u);
    EXPECT_EQ(w[1], "dev.kubefn.schedule.run");
    EXPECT_EQ(w[2], "/schedules/default/tick/every-2s");
    EXPECT_EQ(w[3], "1.0");
    EXPECT_EQ(w[5], "schedules.triggers.kubefn.dev");
    EXPECT_EQ(w[6], "1");
    EXPECT_EQ(w[7], "no-credential");  // the dispatcher's key stays at the gateway
    EXPECT_EQ(w[8], R"({"count":1})");
  }
  // The status says the last run, as the dispatcher recorded it.
  auto fn = kubectl({"get", "fn", "tick", "-o", "json"});
  ASSERT_EQ(fn.exit_code, 0) << fn.err;
  const json entry = json::parse(fn.out)["status"]["triggers"][0];
  EXPECT_EQ(entry["name"], "every-2s");
  EXPECT_TRUE(entry.contains("lastScheduleTime")) << entry;

  // A run that keeps failing: its retries, then given up where the user looks.
  // The same run delivered again (runs 3 s apart may interleave with its retry).
  auto attempts_of_one_run = [&] {
    std::map<std::string, std::set<std::string>> per_run;
    for (const auto& w : lines_of(failed))
      per_run[w[0]].insert(w[6]);
    for (const auto& [id, attempts] : per_run) {
      if (attempts == std::set<std::string>{"1", "2"}) return true;
    }
    return false;
  };
  ASSERT_TRUE(wait_until(attempts_of_one_run, seconds(60))) << read_file(failed) << log();
  ASSERT_TRUE(wait_until(
      [&] {
        auto f = kubectl({"get", "fn", "flaky", "-o", "json"});
        return f.exit_code == 0 && f.out.find("failed: HTTP 500") != std::string::npos;
      },
      seconds(30)));
  auto events =
      kubectl({"get", "events", "--field-selector", "reason=DeliveryFailed", "-o", "json"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("failed 2 time(s)"), std::string::npos) << events.out;

  // Down and up again: every run is called once, none twice.
  ASSERT_EQ(stop(), 0) << log();
  const std::size_t before = lines_of(runs).size();
  ASSERT_NO_FATAL_FAILURE(up(fns));
  ASSERT_TRUE(wait_until([&] { return lines_of(runs).size() >= before + 2; }, seconds(120)))
      << log();
  std::map<std::string, int> per_run;
  for (const auto& w : lines_of(runs))
    ++per_run[w[0]];
  for (const auto& [id, n] : per_run)
    EXPECT_EQ(n, 1) << id << " was called " << n << " times";
}

TEST_F(LocalPlatformE2E, NatsMessagesAreDeliveredAtLeastOnceAndPoisonedOnesDeadLettered) {
  NatsServer server;
  auto conn = nats::Connection::connect([&] {
    nats::Options o;
    o.url = server.url();
    return o;
  }());
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  nats::JetStream js(conn.value());
  nats::StreamConfig stream;
  stream.name = "ORDERS";
  stream.subjects = {"orders.>"};
  ASSERT_TRUE(js.create_or_update_stream(stream).ok());
  const std::string runs = dir_.file("orders.runs");
  const std::vector<std::pair<std::string, std::string>> fns = {
      {"orders", nats_consumer_function(runs, server.url())}};
  auto publish = [&](int from, int to) {
    for (int k = from; k <= to; ++k) {
      auto ack = js.publish("orders.created", std::to_string(k));
      ASSERT_TRUE(ack.ok()) << ack.status().message();
    }
  };
  // Each message's deliveries answered 2xx (lines: id subject attempt verdict type body).
  auto delivered = [&] { return successes(runs, 3); };
  auto all_good_delivered_by = [&](int to) { return all_good_delivered(delivered(), to); };
  // Every message of the dead-letter stream, read by a consumer of the test's own.
  int probes = 0;
  auto dead_letters = [&] {
    std::vector<nats::Message> out;
    auto info = js.stream_info("KUBEFN_DEADLETTER");
    if (!info.ok() || info.value().state.messages == 0) return out;
    nats::ConsumerConfig c;
    c.durable_name = "probe-" + std::to_string(++probes);
    c.ack_policy = nats::AckPolicy::kNone;
    if (!js.create_or_update_consumer("KUBEFN_DEADLETTER", c).ok()) return out;
    const auto n = static_cast<int>(info.value().state.messages);
    auto got = js.fetch("KUBEFN_DEADLETTER", c.durable_name, n, std::chrono::milliseconds(2000));
    if (got.ok()) {
      for (auto& m : got.value())
        out.push_back(m.message());
    }
    (void)js.delete_consumer("KUBEFN_DEADLETTER", c.durable_name);
    return out;
  };

  publish(1, 40);
  ASSERT_NO_FATAL_FAILURE(up(fns));
  ASSERT_TRUE(wait_until([&] { return all_good_delivered_by(40); }, seconds(120)))
      << read_file(runs) << log();
  ASSERT_TRUE(wait_until([&] { return dead_letters().size() >= 4; }, seconds(60))) << log();
  for (const auto& w : lines_of(runs)) {
    EXPECT_EQ(w[4], "dev.kubefn.nats.message");
    EXPECT_EQ(w[1], "orders.created");
    EXPECT_EQ(w[0], "ORDERS:" + std::to_string(std::stoi(w[5])));  // its stream sequence
  }
  // A transient failure was retried, with the attempt counted.
  EXPECT_TRUE(delivered().count("7"));
  // Exactly the poisoned ones, each with the failure that sent it there.
  std::set<std::string> dead;
  for (const auto& m : dead_letters()) {
    dead.insert(m.data);
    EXPECT_EQ(m.subject, "kubefn.deadletter.default.orders.created");
    EXPECT_EQ(m.headers.get("Kubefn-Failure-Status").value_or(""), "500");
    EXPECT_NE(std::string(m.headers.get("Kubefn-Failure-Reason").value_or("")).find("poisoned"),
              std::string::npos);
    EXPECT_EQ(m.headers.get("Kubefn-Attempts").value_or(""), "3");
  }
  EXPECT_EQ(dead, (std::set<std::string>{"10", "20", "30", "40"}));

  // Killed mid-stream: what it had not acknowledged comes again to the next one; nothing lost.
  publish(41, 120);
  ASSERT_TRUE(wait_until([&] { return delivered().size() >= 50; }, seconds(60))) << log();
  up_->signal(SIGKILL);
  up_->wait_exit(seconds(30));
  ASSERT_NO_FATAL_FAILURE(up(fns));
  ASSERT_TRUE(wait_until([&] { return all_good_delivered_by(120); }, seconds(180)))
      << read_file(runs) << log();
  ASSERT_TRUE(wait_until([&] { return dead_letters().size() >= 12; }, seconds(120))) << log();
  std::set<std::string> dead_after;
  for (const auto& m : dead_letters())
    dead_after.insert(m.data);
  EXPECT_EQ(dead_after.size(), 12u);  // once each, however often tried
  int duplicates = 0;
  for (const auto& [k, n] : delivered())
    duplicates += n - 1;
  RecordProperty("duplicate_deliveries", duplicates);
  std::cout << "NATS trigger: 120 messages, " << duplicates
            << " delivered twice across a SIGKILL of kubefn up\n";
}

TEST_F(LocalPlatformE2E, KafkaRecordsAreDeliveredInOrderPerPartitionAndPoisonedOnesDeadLettered) {
  ClicksTopic clicks;
  ASSERT_NO_FATAL_FAILURE(clicks.open());
  KafkaBroker& broker = clicks.broker;
  auto produce = [&](int from, int to) { ASSERT_NO_FATAL_FAILURE(clicks.produce(from, to)); };
  const std::string runs = dir_.file("clicks.runs");
  const std::vector<std::pair<std::string, std::string>> fns = {
      {"clicks", kafka_consumer_function(runs, broker.bootstrap_servers())}};
  // Lines: partition#offset attempt verdict type body.
  auto delivered = [&] { return successes(runs, 2); };
  auto all_good_delivered_by = [&](int to) { return all_good_delivered(delivered(), to); };
  std::map<std::string, std::map<std::string, std::string>> dead;  // value -> headers
  auto reader = clicks.dead_letter_reader();
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto read_dead = [&](std::size_t want) {
    return wait_until(
        [&] {
          auto m = reader.value()->poll(std::chrono::milliseconds(200));
          if (m.ok() && m.value()) {
            auto& h = dead[m.value()->value];
            for (const auto& x : m.value()->headers)
              h[x.key] = x.value;
          }
          return dead.size() >= want;
        },
        seconds(120), std::chrono::milliseconds(1));
  };

  produce(1, 60);
  ASSERT_NO_FATAL_FAILURE(up(fns));
  ASSERT_TRUE(wait_until([&] { return all_good_delivered_by(60); }, seconds(180)))
      << read_file(runs) << log();
  ASSERT_TRUE(read_dead(6)) << log();
  for (const auto& [value, h] : dead) {
    EXPECT_EQ(std::stoi(value) % 10, 0) << value;
    EXPECT_EQ(h.at("kubefn-failure-status"), "500");
    EXPECT_NE(h.at("kubefn-failure-reason").find("poisoned"), std::string::npos);
    EXPECT_EQ(h.at("kubefn-attempts"), "3");
  }
  // One at a time per partition, in offset order (retries included).
  std::map<std::string, long> last_offset;
  for (const auto& w : lines_of(runs)) {
    EXPECT_EQ(w[3], "dev.kubefn.kafka.message");
    const auto hash = w[0].find('#');
    ASSERT_NE(hash, std::string::npos) << w[0];
    const std::string partition = w[0].substr(0, hash);
    const long offset = std::stol(w[0].substr(hash + 1));
    auto it = last_offset.find(partition);
    if (it != last_offset.end()) {
      EXPECT_GE(offset, it->second) << "out of order in " << partition;
    }
    last_offset[partition] = offset;
  }
  EXPECT_EQ(last_offset.size(), 3u);

  // Killed mid-stream: nothing committed that was not done, so nothing is lost.
  produce(61, 150);
  ASSERT_TRUE(wait_until([&] { return delivered().size() >= 60; }, seconds(60))) << log();
  up_->signal(SIGKILL);
  up_->wait_exit(seconds(30));
  ASSERT_NO_FATAL_FAILURE(up(fns));
  ASSERT_TRUE(wait_until([&] { return all_good_delivered_by(150); }, seconds(240)))
      << read_file(runs) << log();
  ASSERT_TRUE(read_dead(15)) << log();
  int duplicates = 0;
  for (const auto& [k, n] : delivered())
    duplicates += n - 1;
  RecordProperty("duplicate_deliveries", duplicates);
  std::cout << "Kafka trigger: 150 records, " << duplicates
            << " delivered twice across a SIGKILL of kubefn up\n";
}

// A queue consumer function (queue_consumer_function's) that takes `ms` over each call, so that
// a broker stopped mid-stream finds deliveries in flight and a backlog behind them.
std::string taking_time(std::string manifest, int ms) {
  const std::string include = "      #include <mutex>\n";
  manifest.insert(manifest.find(include), "      #include <thread>\n");
  const std::string first = "        const long k = ";
  manifest.insert(manifest.find(first),
                  "        std::this_thread::sleep_for(std::chrono::milliseconds(" +
                      std::to_string(ms) + "));\n");
  return manifest;
}

// A body queue_consumer_function answers 2xx and records in a line of fewer columns than an
// event's (no event id, subject, attempt, type): a plain call that no count of deliveries sees.
constexpr const char* kPlainCall = "-1";

// How many times `text` holds `what`.
int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// Every message of a stream, read by a consumer of the test's own (no acks).
std::vector<nats::Message> all_messages(nats::JetStream& js, const std::string& stream,
                                        const std::string& probe) {
  std::vector<nats::Message> out;
  auto info = js.stream_info(stream);
  if (!info.ok() || info.value().state.messages == 0) return out;
  nats::ConsumerConfig c;
  c.durable_name = probe;
  c.ack_policy = nats::AckPolicy::kNone;
  if (!js.create_or_update_consumer(stream, c).ok()) return out;
  const auto n = static_cast<int>(info.value().state.messages);
  auto got = js.fetch(stream, probe, n, std::chrono::milliseconds(2000));
  if (got.ok()) {
    for (auto& m : got.value())
      out.push_back(m.message());
  }
  (void)js.delete_consumer(stream, probe);
  return out;
}

// The group's committed offset in each partition of `topic` against the partition's end (its
// high watermark), asked of the broker (an OffsetFetch and a ListOffsets: the group is not
// joined). `at_end` says whether every partition has its end committed.
std::string committed_against_end(const std::string& bootstrap, const std::string& group,
                                  const std::string& topic, int partitions, bool* at_end) {
  *at_end = false;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return std::string("no client: ") + err;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  std::string out;
  bool all = rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  for (int p = 0; p < partitions && all; ++p) {
    std::int64_t low = 0, high = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 10000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      all = false;
      break;
    }
    const std::int64_t committed = list->elems[p].offset;
    out += " " + std::to_string(p) + ":" + std::to_string(committed) + "/" + std::to_string(high);
    all = all && committed == high;
  }
  if (out.empty()) out = " (no answer)";
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  *at_end = all;
  return "committed/end per partition:" + out;
}

// The NATS server SIGKILLed while a trigger consumes (its JetStream store on disk, the stream in
// file storage) and started again on the same port and store: every message delivered, the
// poisoned ones dead-lettered once each, messages published after the restart taken too, and
// the trigger's backlog back to 0.
TEST_F(LocalPlatformE2E, NatsServerRestartedMidStreamLosesNoMessage) {
  NatsServer server;
  nats::Options options;
  options.url = server.url();
  options.reconnect.initial_delay = std::chrono::milliseconds(50);
  options.reconnect.max_delay = std::chrono::milliseconds(500);
  auto conn = nats::Connection::connect(options);
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  nats::JetStream js(conn.value());
  nats::StreamConfig stream;
  stream.name = "ORDERS";
  stream.subjects = {"orders.>"};
  stream.storage = nats::StorageType::kFile;
  ASSERT_TRUE(js.create_or_update_stream(stream).ok());
  // On disk, in the server's own directory: what a SIGKILL leaves is what it restarts from.
  ASSERT_TRUE(std::filesystem::exists(server.dir().path() / "store" / "jetstream" / "$G" /
                                      "streams" / "ORDERS"));
  const std::string runs = dir_.file("orders.runs");
  const std::vector<std::pair<std::string, std::string>> fns = {
      {"orders", taking_time(nats_consumer_function(runs, server.url()), 100)}};
  // Each with a message id: one retried across the restart is stored once.
  auto publish = [&](int from, int to) {
    for (int k = from; k <= to; ++k) {
      nats::PublishOptions po;
      po.msg_id = "order-" + std::to_string(k);
      nats::Status last;
      ASSERT_TRUE(wait_until(
          [&] {
            auto ack = js.publish("orders.created", std::to_string(k), po);
            if (!ack.ok()) last = ack.status();
            return ack.ok();
          },
          seconds(60), std::chrono::milliseconds(100)))
          << k << ": " << last.message() << server.log();
    }
  };
  auto delivered = [&] { return successes(runs, 3); };
  auto cannot_consume = [&] { return occurrences(log(), "NATS trigger cannot consume"); };
  auto metric = [&](const std::string& series) {
    auto m = http_request(metrics_, "GET", "/metrics");
    return m ? metric_value(m->body, series) : std::nullopt;
  };
  const std::string labels = "function=\"orders\",namespace=\"default\"";
  const std::string trigger = "trigger=\"created\"";

  // Serving before the stream comes, so that the restart is what the deliveries go through.
  ASSERT_NO_FATAL_FAILURE(up(fns));
  std::optional<HttpReply> plain;
  ASSERT_TRUE(wait_until(
      [&] {
        plain =
            call("POST", "/default/orders", kPlainCall, {{"Authorization", "Bearer " + token()}});
        return plain && plain->status == 200;
      },
      seconds(120)))
      << (plain ? plain->status : 0) << " " << (plain ? plain->body : "") << log();
  publish(1, 120);
  ASSERT_TRUE(wait_until([&] { return delivered().size() >= 30; }, seconds(60)))
      << read_file(runs) << log();
  const std::size_t before_kill = delivered().size();
  const int errors_before = cannot_consume();
  server.stop(SIGKILL);
  // The dispatcher noticed: its trigger says it cannot consume (in-flight calls go on).
  ASSERT_TRUE(wait_until([&] { return cannot_consume() > errors_before; }, seconds(30))) << log();
  const std::size_t while_down = delivered().size();
  server.start();
  // Published after the restart: the trigger takes new messages, not only redeliveries.
  publish(121, 150);
  ASSERT_TRUE(wait_until([&] { return all_good_delivered(delivered(), 150); }, seconds(150)))
      << read_file(runs) << log() << server.log();
  // The poisoned ones, each dead-lettered once however often tried.
  int probes = 0;
  std::vector<nats::Message> dead;
  auto dead_set = [&] {
    dead = all_messages(js, "KUBEFN_DEADLETTER", "probe-" + std::to_string(++probes));
    std::set<std::string> out;
    for (const auto& m : dead)
      out.insert(m.data);
    return out;
  };
  std::set<std::string> poisoned;
  for (int k = 10; k <= 150; k += 10)
    poisoned.insert(std::to_string(k));
  ASSERT_TRUE(wait_until([&] { return dead_set() == poisoned; }, seconds(60))) << log();
  EXPECT_EQ(dead.size(), poisoned.size());
  for (const auto& m : dead)
    EXPECT_EQ(m.headers.get("Kubefn-Failure-Status").value_or(""), "500");
  // Not stuck: every delivery acknowledged, nothing pending, the counters going on.
  EXPECT_TRUE(wait_until(
      [&] {
        auto i = js.consumer_info("ORDERS", "kubefn-default-orders-created");
        return i.ok() && i.value().num_pending == 0 && i.value().num_ack_pending == 0;
      },
      seconds(60)))
      << log();
  EXPECT_TRUE(wait_until(
      [&] { return metric("kubefn_trigger_pending{" + labels + "," + trigger + "}") == 0.0; },
      seconds(30)))
      << log();
  const auto done =
      metric("kubefn_trigger_events_total{" + labels + ",result=\"delivered\"," + trigger + "}");
  EXPECT_GE(done.value_or(0), 135.0);
  // It was mid-stream: not all delivered when the server went.
  EXPECT_LT(before_kill, 108u);
  int duplicates = 0;
  for (const auto& [k, n] : delivered())
    duplicates += n - 1;
  RecordProperty("duplicate_deliveries", duplicates);
  std::cout << "NATS trigger: 150 messages, nats-server SIGKILLed after " << before_kill
            << " delivered (" << while_down << " when the dispatcher noticed), " << duplicates
            << " duplicate deliveries, " << dead.size() << " dead letters\n";
}

// The Kafka broker SIGKILLed while a trigger consumes and started again on the same ports and
// data: every record delivered, first deliveries in offset order per partition, the poisoned
// ones dead-lettered, records produced after the restart taken too, and the group's committed
// offsets at the end of every partition.
TEST_F(LocalPlatformE2E, KafkaBrokerRestartedMidStreamLosesNoMessage) {
  ClicksTopic clicks;
  ASSERT_NO_FATAL_FAILURE(clicks.open());
  KafkaBroker& broker = clicks.broker;
  auto produce = [&](int from, int to) { ASSERT_NO_FATAL_FAILURE(clicks.produce(from, to)); };
  const std::string runs = dir_.file("clicks.runs");
  const std::vector<std::pair<std::string, std::string>> fns = {
      {"clicks", taking_time(kafka_consumer_function(runs, broker.bootstrap_servers()), 100)}};
  auto delivered = [&] { return successes(runs, 2); };
  auto cannot_consume = [&] { return occurrences(log(), "Kafka trigger cannot consume"); };
  auto metric = [&](const std::string& series) {
    auto m = http_request(metrics_, "GET", "/metrics");
    return m ? metric_value(m->body, series) : std::nullopt;
  };

  // Serving before the records come, so that the restart is what the deliveries go through.
  ASSERT_NO_FATAL_FAILURE(up(fns));
  std::optional<HttpReply> plain;
  ASSERT_TRUE(wait_until(
      [&] {
        plain =
            call("POST", "/default/clicks", kPlainCall, {{"Authorization", "Bearer " + token()}});
        return plain && plain->status == 200;
      },
      seconds(120)))
      << (plain ? plain->status : 0) << " " << (plain ? plain->body : "") << log();
  produce(1, 120);
  ASSERT_TRUE(wait_until([&] { return delivered().size() >= 30; }, seconds(60)))
      << read_file(runs) << log();
  const std::size_t before_kill = delivered().size();
  const int errors_before = cannot_consume();
  broker.kill();
  // The dispatcher noticed: its trigger says it cannot consume (records fetched go on).
  ASSERT_TRUE(wait_until([&] { return cannot_consume() > errors_before; }, seconds(30))) << log();
  const std::size_t while_down = delivered().size();
  broker.start();
  // Produced after the restart: the trigger takes new records, not only what it had fetched.
  produce(121, 150);
  ASSERT_TRUE(wait_until([&] { return all_good_delivered(delivered(), 150); }, seconds(120)))
      << read_file(runs) << log() << broker.log_tail();

  // First deliveries in offset order in each partition; a record read again after the restart
  // (its offset not committed yet) is a duplicate, not a reordering.
  std::map<std::string, long> newest;
  std::set<std::string> seen;
  int read_again = 0;
  for (const auto& w : lines_of(runs)) {
    if (w.size() != 5) continue;  // the plain call
    const auto hash = w[0].find('#');
    ASSERT_NE(hash, std::string::npos) << w[0];
    const std::string partition = w[0].substr(0, hash);
    const long offset = std::stol(w[0].substr(hash + 1));
    if (!seen.insert(w[0]).second) {
      if (offset < newest[partition]) ++read_again;
      continue;
    }
    auto it = newest.find(partition);
    if (it != newest.end()) {
      EXPECT_GT(offset, it->second) << "first delivery out of order: " << w[0];
    }
    newest[partition] = offset;
  }
  EXPECT_EQ(newest.size(), 3u);

  // The poisoned ones dead-lettered (a record read again may be dead-lettered again).
  auto reader = clicks.dead_letter_reader();
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  std::set<std::string> dead;
  int dead_letters = 0;
  std::set<std::string> poisoned;
  for (int k = 10; k <= 150; k += 10)
    poisoned.insert(std::to_string(k));
  EXPECT_TRUE(wait_until(
      [&] {
        auto m = reader.value()->poll(std::chrono::milliseconds(200));
        if (m.ok() && m.value()) {
          ++dead_letters;
          dead.insert(m.value()->value);
        }
        return dead == poisoned;
      },
      seconds(60), std::chrono::milliseconds(1)))
      << dead.size() << " dead letters " << log();

  // Committed to the end: the group's offsets reach every partition's end.
  std::string offsets;
  EXPECT_TRUE(wait_until(
      [&] {
        bool at_end = false;
        offsets = committed_against_end(broker.bootstrap_servers(), "kubefn-default-clicks-clicks",
                                        "clicks", 3, &at_end);
        return at_end;
      },
      seconds(60), std::chrono::milliseconds(500)))
      << offsets << log();
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(
                   "kubefn_trigger_pending{function=\"clicks\",namespace=\"default\","
                   "trigger=\"clicks\"}") == 0.0;
      },
      seconds(30)))
      << log();
  EXPECT_LT(before_kill, 108u);  // it was mid-stream
  int duplicates = 0;
  for (const auto& [k, n] : delivered())
    duplicates += n - 1;
  RecordProperty("duplicate_deliveries", duplicates);
  std::cout << "Kafka trigger: 150 records, broker SIGKILLed after " << before_kill
            << " delivered (" << while_down << " when the dispatcher noticed), " << duplicates
            << " duplicate deliveries (" << read_again << " read again from a committed offset), "
            << dead_letters << " dead letters, " << offsets << "\n";
}

// A queue trigger's backlog scales its function 0 -> N -> 0: events published while the
// function is at zero bring up as many replicas as the backlog asks for (target 1, at most 3),
// every event is delivered, then it goes back to zero. The trigger has one event in flight at
// a time (maxInFlight 1, 300 ms each), so the gateway's figures (calls in flight and queued)
// never ask for more than two replicas: a third is the backlog's.
TEST_F(LocalPlatformE2E, NatsBacklogScalesAFunctionFromZeroToSeveralReplicasAndBack) {
  NatsServer server;
  auto conn = nats::Connection::connect([&] {
    nats::Options o;
    o.url = server.url();
    return o;
  }());
  ASSERT_TRUE(conn.ok()) << conn.status().message();
  nats::JetStream js(conn.value());
  nats::StreamConfig stream;
  stream.name = "JOBS";
  stream.subjects = {"jobs.>"};
  ASSERT_TRUE(js.create_or_update_stream(stream).ok());
  const std::string runs = dir_.file("jobs.runs");
  const std::string fn = R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: drain
  namespace: default
spec:
  handler: drain.take
  concurrency: 1
  env:
    - {name: RUNS, value: ")" +
                         runs + R"("}
  scaling:
    minReplicas: 0
    maxReplicas: 3
    target: 1
    stableWindow: 6
    scaleToZeroGracePeriod: 2
    keepAlive: fixed
  source:
    inline: |
      #include <chrono>
      #include <cstdlib>
      #include <fstream>
      #include <kubefn/function.hpp>
      #include <string>
      #include <thread>
      std::string take(const kubefn::Event& e, kubefn::Context&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        std::ofstream(std::getenv("RUNS"), std::ios::app) << e.data << std::endl;
        return "taken\n";
      }
      KUBEFN_HANDLER(take);
  triggers:
    nats:
      - name: jobs
        url: )" + server.url() +
                         R"(
        stream: JOBS
        subject: jobs.new
        maxInFlight: 1
)";
  ASSERT_NO_FATAL_FAILURE(up({{"drain", fn}}));
  // Built, started at one replica, idle: at zero before anything is published.
  ASSERT_TRUE(wait_until(
      [&] {
        return log().find("default/drain scaled 1 -> 0") != std::string::npos &&
               replica_pids(up_->pid(), "drain").empty();
      },
      seconds(180)))
      << log();
  const std::size_t at_zero = log().size();

  constexpr int kEvents = 40;
  for (int k = 1; k <= kEvents; ++k) {
    auto ack = js.publish("jobs.new", std::to_string(k));
    ASSERT_TRUE(ack.ok()) << ack.status().message();
  }
  auto delivered = [&] {
    std::set<std::string> got;
    for (const auto& w : lines_of(runs))
      got.insert(w[0]);
    return got;
  };
  std::size_t peak = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        peak = std::max(peak, replica_pids(up_->pid(), "drain").size());
        return delivered().size() == static_cast<std::size_t>(kEvents);
      },
      seconds(120), std::chrono::milliseconds(50)))
      << delivered().size() << " of " << kEvents << " delivered\n"
      << log();
  for (int k = 1; k <= kEvents; ++k)
    EXPECT_EQ(delivered().count(std::to_string(k)), 1u) << k;
  // Three replicas, and the backlog is what asked for them.
  const std::string scaled = log().substr(at_zero);
  EXPECT_EQ(peak, 3u) << scaled;
  static const std::regex by_backlog(
      "default/drain scaled [0-2] -> 3: [^\n]*backlog [0-9]+ pending in queue triggers: "
      "3 replicas");
  std::smatch m;
  EXPECT_TRUE(std::regex_search(scaled, m, by_backlog)) << scaled;
  // The queue drained and the function idle: back to zero after its keep-alive.
  static const std::regex to_zero("default/drain scaled [1-3] -> 0: ");
  EXPECT_TRUE(wait_until(
      [&] {
        const std::string since = log().substr(at_zero);
        return std::regex_search(since, to_zero) && replica_pids(up_->pid(), "drain").empty();
      },
      seconds(60), std::chrono::milliseconds(100)))
      << log().substr(at_zero);
  RecordProperty("peak_replicas", static_cast<int>(peak));
}

// A function for asynchronous calls: each call's body is a number k; k % 10 == 0 always fails,
// k % 7 == 0 fails on its first attempt. Lines of RUNS: call-id attempt verdict method target
// authorization body.
std::string async_jobs_function(const std::string& runs) {
  return R"(apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: jobs
  namespace: default
spec:
  handler: jobs.run
  concurrency: 4
  env:
    - {name: RUNS, value: ")" +
         runs + R"("}
  scaling: {minReplicas: 0, maxReplicas: 2}
  source:
    inline: |
      #include <cstdlib>
      #include <fstream>
      #include <kubefn/function.hpp>
      #include <mutex>
      #include <string>
      std::mutex mu;
      kubefn::Response run(const kubefn::Event& e, kubefn::Context&) {
        const long k = std::atol(std::string(e.data).c_str());
        const std::string attempt(e.header("kubefn-delivery-attempt"));
        const bool fail = k % 10 == 0 || (k % 7 == 0 && attempt == "1");
        const std::string auth(e.header("authorization"));
        {
          std::lock_guard<std::mutex> lock(mu);
          std::ofstream(std::getenv("RUNS"), std::ios::app)
              << e.header("kubefn-call-id") << " " << attempt << " " << (fail ? "fail" : "ok")
              << " " << e.method << " " << e.path << "?" << e.query << " "
              << (auth.empty() ? "none" : "LEAKED") << " " << e.data << std::endl;
        }
        if (fail) return kubefn::Response{500, {}, "failed " + std::string(e.data)};
        return kubefn::Response{200, {{"Content-Type", "text/plain"}}, "done " + std::string(e.data)};
      }
      KUBEFN_HANDLER(run);
)";
}

TEST_F(LocalPlatformE2E, AsyncCallsAreQueuedRunRetriedDeadLetteredAndCalledBack) {
  NatsServer server;
  RequestRecorder callbacks;
  ASSERT_TRUE(callbacks.ok());
  const std::string runs = dir_.file("jobs.runs");
  ASSERT_NO_FATAL_FAILURE(
      up({{"jobs", async_jobs_function(runs)}}, {"--async-nats-url", server.url()}));
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + token()}};

  // Private by default: queuing needs the credential calling does.
  auto refused = http_request(gateway_, "POST", "/async/default/jobs/", "1");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  auto bad = http_request(
      gateway_, "POST", "/async/default/jobs/", "1",
      {{"Authorization", "Bearer " + token()}, {"X-Callback-Url", "https://example.com/"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;

  // 30 calls (one of them through Prefer: respond-async on the normal route, as PUT).
  std::map<int, std::string> ids;  // k -> call id
  for (int k = 1; k <= 30; ++k) {
    auto headers = auth;
    headers["X-Callback-Url"] = callbacks.url("/done?k=" + std::to_string(k));
    headers["X-Request-Id"] = "req-" + std::to_string(k);
    std::optional<HttpReply> r;
    if (k == 5) {
      headers["Prefer"] = "respond-async";
      r = http_request(gateway_, "PUT", "/default/jobs/work?n=5", std::to_string(k), headers);
    } else {
      r = http_request(gateway_, "POST", "/async/default/jobs/work?n=" + std::to_string(k),
                       std::to_string(k), headers);
    }
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body << log();
    const auto body = nlohmann::json::parse(r->body);
    const std::string id = body.value("id", "");
    ASSERT_EQ(id.size(), 32u) << r->body;
    EXPECT_EQ(body.value("state", ""), "queued");
    EXPECT_EQ(r->header("location"), "/async/default/jobs/calls/" + id);
    if (k == 5) {
      EXPECT_EQ(r->header("preference-applied"), "respond-async");
    }
    ids[k] = id;
  }
  // Every call ends with one callback (the poisoned ones after 4 attempts, 1 s .. 4 s apart).
  ASSERT_TRUE(wait_until([&] { return callbacks.requests().size() >= 30; }, seconds(180)))
      << callbacks.requests().size() << " callbacks\n"
      << read_file(runs) << log();

  std::map<std::string, int> by_id;  // call id -> k
  for (const auto& [k, id] : ids)
    by_id[id] = k;
  std::set<int> called_back;
  for (const auto& cb : callbacks.requests()) {
    const std::string id = cb.header("kubefn-call-id");
    ASSERT_TRUE(by_id.count(id)) << id;
    const int k = by_id[id];
    EXPECT_TRUE(called_back.insert(k).second) << "two callbacks for " << k;
    EXPECT_EQ(cb.method, "POST");
    EXPECT_EQ(cb.target, "/done?k=" + std::to_string(k));
    EXPECT_EQ(cb.header("kubefn-function"), "default/jobs");
    if (k % 10 == 0) {
      EXPECT_EQ(cb.header("kubefn-call-state"), "failed");
      EXPECT_EQ(cb.header("kubefn-call-status"), "500");
      EXPECT_EQ(cb.header("kubefn-attempts"), "4");
      EXPECT_EQ(cb.body, "failed " + std::to_string(k));
    } else {
      EXPECT_EQ(cb.header("kubefn-call-state"), "succeeded");
      EXPECT_EQ(cb.header("kubefn-call-status"), "200");
      EXPECT_EQ(cb.header("kubefn-attempts"), k % 7 == 0 ? "2" : "1");
      EXPECT_EQ(cb.body, "done " + std::to_string(k));
      EXPECT_EQ(cb.header("content-type"), "text/plain");
    }
  }
  EXPECT_EQ(called_back.size(), 30u);

  // What the function got: the method and path asked for, no credential, once per attempt.
  for (const auto& w : lines_of(runs)) {
    ASSERT_EQ(w.size(), 7u);
    const int k = std::stoi(w[6]);
    EXPECT_EQ(w[0], ids[k]);
    EXPECT_EQ(w[3], k == 5 ? "PUT" : "POST");
    EXPECT_EQ(w[4], "/work?n=" + std::to_string(k));
    EXPECT_EQ(w[5], "none") << "a caller's credential reached the function";
  }

  // Each call's state, read back with the function's credential.
  for (const auto& [k, id] : ids) {
    auto r = http_request(gateway_, "GET", "/async/default/jobs/calls/" + id, {}, auth);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const auto s = nlohmann::json::parse(r->body);
    EXPECT_EQ(s.value("id", ""), id);
    EXPECT_EQ(s.value("state", ""), k % 10 == 0 ? "failed" : "succeeded") << r->body;
    EXPECT_EQ(s.value("result", ""), (k % 10 == 0 ? "failed " : "done ") + std::to_string(k));
    EXPECT_EQ(s.value("callback", ""), "delivered");
    EXPECT_EQ(s.value("attempts", 0), k % 10 == 0 ? 4 : (k % 7 == 0 ? 2 : 1));
  }
  auto unknown = http_request(
      gateway_, "GET", "/async/default/jobs/calls/0123456789abcdef0123456789abcdef", {}, auth);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto no_token = http_request(gateway_, "GET", "/async/default/jobs/calls/" + ids[1]);
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);

  // The failed ones, exactly, are in the dead-letter stream with their failure.
  auto conn = nats::Connection::connect([&] {
    nats::Options o;
    o.url = server.url();
    return o;
  }());
  ASSERT_TRUE(conn.ok());
  nats::JetStream js(conn.value());
  nats::ConsumerConfig c;
  c.durable_name = "probe";
  c.ack_policy = nats::AckPolicy::kNone;
  c.filter_subject = "kubefn.deadletter.async.default.jobs";
  ASSERT_TRUE(js.create_or_update_consumer("KUBEFN_DEADLETTER", c).ok());
  auto dead = js.fetch("KUBEFN_DEADLETTER", "probe", 10, std::chrono::milliseconds(2000));
  ASSERT_TRUE(dead.ok());
  std::set<std::string> dead_bodies;
  for (const auto& m : dead.value()) {
    dead_bodies.insert(m.data());
    EXPECT_EQ(m.headers().get("Kubefn-Failure-Status").value_or(""), "500");
    EXPECT_EQ(m.headers().get("Kubefn-Attempts").value_or(""), "4");
  }
  EXPECT_EQ(dead_bodies, (std::set<std::string>{"10", "20", "30"}));
  // Done calls left the queue.
  auto queue = js.stream_info("KUBEFN_ASYNC");
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ(queue.value().state.messages, 0u);

  // Metered like any call, and split out as the trigger "async": 27 answered on the first or
  // second attempt; 16 failed attempts (4 of each poisoned call, one of each k % 7 == 0).
  auto metrics = http_request(metrics_, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  const std::string series =
      "kubefn_function_trigger_invocations_total{namespace=\"default\","
      "function=\"jobs\",trigger=\"async\",outcome=";
  EXPECT_EQ(metric_value(metrics->body, series + "\"success\"}"), 27.0) << metrics->body;
  EXPECT_EQ(metric_value(metrics->body, series + "\"error\"}"), 16.0);
}

TEST_F(LocalPlatformE2E, AsyncCallsSurviveASigkillAndScaleTheirFunctionFromZero) {
  NatsServer server;
  RequestRecorder callbacks;
  ASSERT_TRUE(callbacks.ok());
  const std::string runs = dir_.file("slow.runs");
  // 300 ms a call, one at a time per replica, at zero when idle.
  std::string fn = async_jobs_function(runs);
  fn = std::regex_replace(fn, std::regex("name: jobs"), "name: slow");
  fn = std::regex_replace(fn, std::regex("concurrency: 4"), "concurrency: 1");
  fn = std::regex_replace(fn, std::regex("maxReplicas: 2"), "maxReplicas: 3, target: 1");
  fn = std::regex_replace(fn, std::regex("const std::string auth"),
                          "std::this_thread::sleep_for(std::chrono::milliseconds(300));\n"
                          "        const std::string auth");
  fn = std::regex_replace(fn, std::regex("#include <string>"),
                          "#include <string>\n      #include <thread>");
  ASSERT_NO_FATAL_FAILURE(up({{"slow", fn}}, {"--async-nats-url", server.url()}));
  const std::map<std::string, std::string> auth{{"Authorization", "Bearer " + token()},
                                                {"X-Callback-Url", callbacks.url("/cb")}};
  std::set<std::string> ids;
  auto queue = [&](int from, int to) {
    for (int k = from; k <= to; ++k) {
      // A body the function never fails (neither a multiple of 10 nor of 7). Right after a
      // restart the gateway may not route the Function yet (404 until it is reconciled).
      std::optional<HttpReply> r;
      ASSERT_TRUE(wait_until(
          [&] {
            r = http_request(gateway_, "POST", "/async/default/slow/", "1", auth);
            return r && r->status != 404;
          },
          seconds(60)))
          << log();
      ASSERT_EQ(r->status, 202) << "call " << k << ": " << r->body << log();
      ids.insert(nlohmann::json::parse(r->body).value("id", ""));
    }
  };
  auto called_back = [&] {
    std::set<std::string> done;
    for (const auto& cb : callbacks.requests())
      if (cb.header("kubefn-call-state") == "succeeded") done.insert(cb.header("kubefn-call-id"));
    return done;
  };
  queue(1, 20);
  // Killed while the calls run: what was not acknowledged runs again after the restart.
  ASSERT_TRUE(wait_until([&] { return lines_of(runs).size() >= 3; }, seconds(120))) << log();
  up_->signal(SIGKILL);
  up_->wait_exit(seconds(30));
  ASSERT_NO_FATAL_FAILURE(up({{"slow", fn}}, {"--async-nats-url", server.url()}));
  queue(21, 30);
  ASSERT_TRUE(wait_until([&] { return called_back().size() >= ids.size(); }, seconds(180)))
      << called_back().size() << " of " << ids.size() << " called back\n"
      << log();
  EXPECT_EQ(called_back(), ids);
  // Each call ran at least once; the ones the kill caught ran twice at most.
  std::map<std::string, int> ran;
  for (const auto& w : lines_of(runs))
    ++ran[w[0]];
  int twice = 0;
  for (const auto& id : ids) {
    EXPECT_GE(ran[id], 1) << id;
    EXPECT_LE(ran[id], 2) << id;
    twice += ran[id] > 1;
  }
  RecordProperty("ran_twice", twice);
  std::cout << "async calls: 30 queued across a SIGKILL of kubefn up, " << twice << " ran twice\n";
  // Thirty 300 ms calls queued at once asked for more than one replica (backlog over target 1).
  EXPECT_NE(log().find("pending in queue triggers"), std::string::npos) << log();
}

}  // namespace
}  // namespace kubefn::testing
