// The kubefn CLI end to end: the real binary against the Kubernetes API emulator (with the CRD
// applied by a real kubectl), a real kubefn-runtime standing in for the gateway, and log files.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "kubefn/emulator/yaml_to_json.hpp"
#include "kubefn/testing/command.hpp"
#include "kubefn/testing/emulator_process.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string kubectl_path() {
  const char* env = std::getenv("KUBEFN_KUBECTL");
  return env != nullptr && *env != '\0' ? env : KUBEFN_DEFAULT_KUBECTL;
}

std::string example(const std::string& name) {
  return std::string(KUBEFN_SOURCE_DIR) + "/examples/" + name + "/function.yaml";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string function_yaml(const std::string& name, const std::string& spec_lines) {
  return "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata:\n  name: " + name +
         "\nspec:\n" + spec_lines;
}

class CliE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = dir_.path() / "home";
    std::filesystem::create_directories(home_);
    auto emu = start_emulator_process(KUBEFN_EMULATOR_BIN, dir_.path().string());
    ASSERT_TRUE(emu.error.empty()) << emu.error;
    emulator_ = std::move(emu.process);
    url_ = emu.url;
    auto crd = kubectl({"apply", "-f", std::string(KUBEFN_SOURCE_DIR) + "/crds/function.yaml"});
    ASSERT_EQ(crd.exit_code, 0) << crd.err;
    auto est = kubectl(
        {"wait", "--for", "condition=established", "--timeout=20s", "crd/functions.kubefn.dev"});
    ASSERT_EQ(est.exit_code, 0) << est.err;
  }

  // The environment of every kubefn run: a home of its own, so no real ~/.kube or ~/.kubefn.
  std::map<std::string, std::string> cli_env() const {
    return {{"HOME", home_.string()},
            {"KUBEFN_HOME", (home_ / ".kubefn").string()},
            {"KUBECONFIG", ""},
            {"KUBEFN_GATEWAY", ""}};
  }

  CommandResult kubefn(std::vector<std::string> args, const std::string& stdin_text = {},
                       std::map<std::string, std::string> extra_env = {}) {
    std::vector<std::string> argv = {KUBEFN_CLI_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    auto env = cli_env();
    for (auto& [k, v] : extra_env)
      env[k] = v;
    return run_command(argv, env, seconds(60), stdin_text);
  }

  // kubefn against the emulator named by the test's kubeconfig.
  CommandResult kf(std::vector<std::string> args, const std::string& stdin_text = {}) {
    args.insert(args.begin(), {"--kubeconfig", dir_.file("kubeconfig")});
    return kubefn(args, stdin_text);
  }

  CommandResult kubectl(std::vector<std::string> args, const std::string& stdin_text = {}) {
    std::vector<std::string> argv = {kubectl_path(), "--kubeconfig", dir_.file("kubeconfig"),
                                     "--cache-dir", dir_.file("kube-cache")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {}, seconds(60), stdin_text);
  }

  // Plays the operator: writes a status on a Function.
  void set_status(const std::string& name, const std::string& status_json) {
    auto r = kubectl({"patch", "fn", name, "--subresource=status", "--type=merge", "-p",
                      "{\"status\":" + status_json + "}"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  void write_state(long pid, const std::string& logs_dir, const std::string& gateway = "") {
    std::filesystem::create_directories(home_ / ".kubefn");
    write_file((home_ / ".kubefn" / "up.json").string(),
               "{\"pid\": " + std::to_string(pid) + ", \"api\": \"" + url_ + "\", \"gateway\": \"" +
                   gateway + "\", \"metrics\": \"\", \"logs\": \"" + logs_dir + "\"}\n");
  }

  TempDir dir_;
  std::filesystem::path home_;
  std::unique_ptr<ChildProcess> emulator_;
  std::string url_;
};

TEST_F(CliE2E, ApplyListDescribeDelete) {
  auto applied = kf({"apply", "-f", example("hello"), "-f", example("echo")});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_TRUE(contains(applied.out, "function.kubefn.dev/hello created")) << applied.out;
  EXPECT_TRUE(contains(applied.out, "function.kubefn.dev/echo created")) << applied.out;
  // What kubectl sees is what kubefn applied.
  auto handler = kubectl({"get", "fn", "hello", "-o", "jsonpath={.spec.handler}"});
  EXPECT_EQ(handler.out, "hello.greet");

  auto again = kf({"deploy", "-f", example("hello")});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(contains(again.out, "function.kubefn.dev/hello unchanged")) << again.out;

  auto changed = kf({"apply", "-f", "-"},
                    function_yaml("hello", "  handler: hello.greet\n  image: r.local/hello:2\n"));
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_TRUE(contains(changed.out, "function.kubefn.dev/hello configured")) << changed.out;
  auto image = kubectl({"get", "fn", "hello", "-o", "jsonpath={.spec.image}"});
  EXPECT_EQ(image.out, "r.local/hello:2");
  // Server-side apply removed what the manifest no longer declares.
  auto source = kubectl({"get", "fn", "hello", "-o", "jsonpath={.spec.source.inline}"});
  EXPECT_EQ(source.out, "");

  set_status("hello",
             R"({"observedGeneration": 2, "replicas": 2, "readyReplicas": 1,
                 "image": "r.local/hello:2",
                 "conditions": [
                   {"type": "Built", "status": "True", "reason": "PrebuiltImage",
                    "message": "r.local/hello:2", "lastTransitionTime": "2024-01-01T00:00:00Z"},
                   {"type": "Ready", "status": "False", "reason": "Deploying",
                    "message": "1 of 2 replicas ready",
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}]})");
  auto event =
      kubectl({"apply", "-f", "-"},
              "apiVersion: v1\nkind: Event\nmetadata: {name: hello.1, namespace: default}\n"
              "involvedObject: {kind: Function, name: hello, namespace: default}\n"
              "reason: DeploymentCreated\nmessage: created deployment hello\n"
              "type: Normal\nsource: {component: kubefn-operator}\n"
              "lastTimestamp: \"2024-01-01T00:00:00Z\"\n");
  ASSERT_EQ(event.exit_code, 0) << event.err;

  auto listed = kf({"list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(
      std::regex_search(listed.out, std::regex("NAME\\s+READY\\s+REPLICAS\\s+IMAGE/URL\\s+AGE")))
      << listed.out;
  EXPECT_TRUE(std::regex_search(listed.out,
                                std::regex("\\nhello\\s+False\\s+1/2\\s+r.local/hello:2\\s+\\S+")))
      << listed.out;
  EXPECT_TRUE(std::regex_search(listed.out, std::regex("\\necho\\s+-\\s+-\\s+-\\s+\\S+")))
      << listed.out;

  auto all = kf({"ls", "-A", "-o", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(contains(all.out, "\"kind\": \"List\"")) << all.out;
  EXPECT_TRUE(contains(all.out, "\"name\": \"echo\"")) << all.out;

  auto described = kf({"describe", "hello"});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_TRUE(contains(described.out, "Handler:        hello.greet")) << described.out;
  EXPECT_TRUE(std::regex_search(
      described.out, std::regex("Ready\\s+False\\s+Deploying\\s+\\S+\\s+1 of 2 replicas ready")))
      << described.out;
  EXPECT_TRUE(contains(described.out, "DeploymentCreated")) << described.out;
  EXPECT_TRUE(contains(described.out, "created deployment hello")) << described.out;

  auto as_yaml = kf({"describe", "echo", "-o", "yaml"});
  ASSERT_EQ(as_yaml.exit_code, 0) << as_yaml.err;
  EXPECT_TRUE(contains(as_yaml.out, "handler: echo.echo")) << as_yaml.out;

  auto missing = kf({"describe", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "function default/nope not found: kubefn list -n default"))
      << missing.err;

  auto deleted = kf({"delete", "hello", "--wait"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(contains(deleted.out, "function.kubefn.dev/hello deleted")) << deleted.out;
  auto by_file = kf({"delete", "-f", example("echo")});
  ASSERT_EQ(by_file.exit_code, 0) << by_file.err;
  EXPECT_TRUE(contains(by_file.out, "function.kubefn.dev/echo deleted")) << by_file.out;
  auto empty = kf({"list"});
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(contains(empty.err, "No functions found in namespace default")) << empty.err;
  EXPECT_EQ(kubectl({"get", "fn", "hello"}).exit_code, 1);

  auto twice = kf({"delete", "hello"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_TRUE(contains(twice.err, "not found")) << twice.err;
}

TEST_F(CliE2E, InvalidManifestsAreRefusedBeforeAnythingIsWritten) {
  const std::string good = function_yaml("good", "  handler: good.run\n  image: r/good:1\n");
  auto bad_yaml = kf({"apply", "-f", "-"}, good + "---\nkind: Function\nmetadata: {name: [x\n");
  EXPECT_EQ(bad_yaml.exit_code, 1);
  EXPECT_TRUE(contains(bad_yaml.err, "<stdin> document 2")) << bad_yaml.err;
  EXPECT_TRUE(contains(bad_yaml.err, "invalid YAML")) << bad_yaml.err;

  auto bad_spec = kf({"apply", "-f", "-"},
                     good + "---\n" + function_yaml("bad", "  handler: nodot\n  image: r/b:1\n"));
  EXPECT_EQ(bad_spec.exit_code, 1);
  EXPECT_TRUE(contains(bad_spec.err, "document 2 (function bad): InvalidHandler")) << bad_spec.err;

  auto wrong_kind =
      kf({"apply", "-f", "-"}, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
  EXPECT_EQ(wrong_kind.exit_code, 1);
  EXPECT_TRUE(contains(wrong_kind.err, "kubefn.dev/v1alpha1 Function")) << wrong_kind.err;

  auto no_file = kf({"apply", "-f", dir_.file("missing.yaml")});
  EXPECT_EQ(no_file.exit_code, 1);
  EXPECT_TRUE(contains(no_file.err, "missing.yaml")) << no_file.err;

  EXPECT_EQ(kubectl({"get", "fn", "good"}).exit_code, 1) << "nothing is applied from a bad set";
}

// The JSON kubefn makes of YAML (kubefn_yaml, which the CLI, kubefn up, the emulator and the
// tests share) is the JSON the real kubectl makes of it: the cases where the conversions the
// repository had before differed (YAML 1.1 words, integer bases, whole floats, tags, merge keys,
// non-string keys), and what kubectl refuses.
TEST_F(CliE2E, YamlBecomesTheJsonKubectlMakesOfIt) {
  const std::string yaml =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cases}\n"
      "base: &base {p: 1, q: 2}\n"
      "x:\n"
      "  words: [yes, Yes, on, y, n, OFF, True, FALSE, Null, ~, tRUE, nil]\n"
      "  ints: [0x1F, 0o17, 017, 1_000, 1__0, +5, 08, 0b101, -0b11, -0x10, 00, 0_8, -0]\n"
      "  big: [99999999999999999999, 18446744073709551615, 9223372036854775807]\n"
      "  floats: [1.0, .5, 5., 1e3, 1E+3, -.5, 1.5e-7, 1e21, 0., +.5, 1_0.5, .1_0]\n"
      "  strings: [12e, 0x, 0b, _1, 1.2.3, '1', \"08\", 1:20, 2024-01-02, 1e400, .]\n"
      "  tagged: [!!str 5, !!int \"5\", !!float 1, !!bool yes, !!binary aGVsbG8=, !foo 5]\n"
      "  tagged_empty: !!str\n"
      "  block: |\n    5\n"
      "  keys: {1: a, true: b, 1.5: c, 0x10: f, 0.1: h, 1e21: i, 1e6: k, \"<<\": l}\n"
      "  merged: {<<: *base, q: 3}\n"
      "  overridden: {q: 3, <<: *base}\n"
      "  listed: {<<: [{p: 1}, {p: 2, r: 2}]}\n";
  auto r =
      kubectl({"create", "--dry-run=client", "--validate=false", "-o", "json", "-f", "-"}, yaml);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json from_kubectl = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(from_kubectl.is_object()) << r.out;
  const auto ours = emulator::yaml_to_json(yaml);
  ASSERT_TRUE(ours.has_value());
  for (const auto& [key, value] : from_kubectl["x"].items())
    EXPECT_EQ((*ours)["x"][key], value) << key << ": ours " << (*ours)["x"][key].dump();
  EXPECT_EQ((*ours)["x"].size(), from_kubectl["x"].size());

  for (const char* refused : {"x: .inf\n", "x: -.Inf\n", "x: .nan\n", "x: {~: a}\n",
                              "x: {[a, b]: 1}\n", "x: !!int 1.5\n", "x: !!float abc\n"}) {
    const std::string text =
        std::string("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\n") + refused;
    auto k =
        kubectl({"create", "--dry-run=client", "--validate=false", "-o", "json", "-f", "-"}, text);
    EXPECT_NE(k.exit_code, 0) << refused << k.out;
    EXPECT_FALSE(emulator::yaml_to_json(text).has_value()) << refused;
  }
}

TEST_F(CliE2E, ApplyWaitFollowsConditionsToReadyOrFailure) {
  auto wait_run = [&](const std::string& name, const std::string& status_json) {
    std::ofstream(dir_.file(name + ".yaml"))
        << function_yaml(name, "  handler: " + name + ".run\n  image: r/" + name + ":1\n");
    ChildProcess cli({KUBEFN_CLI_BIN, "--kubeconfig", dir_.file("kubeconfig"), "apply", "-f",
                      dir_.file(name + ".yaml"), "--wait", "--timeout", "60"},
                     cli_env(), dir_.file(name + ".out"), dir_.file(name + ".err"));
    // The progress line shows the Function has no status until the "operator" writes one.
    EXPECT_TRUE(
        wait_until([&] { return contains(read_file(dir_.file(name + ".err")), "no status yet"); },
                   seconds(20)))
        << read_file(dir_.file(name + ".err"));
    set_status(name, status_json);
    auto code = cli.wait_exit(seconds(30));
    return std::make_pair(code.value_or(-1), read_file(dir_.file(name + ".out")) + "\n" +
                                                 read_file(dir_.file(name + ".err")));
  };
  auto ready = wait_run("quick", R"({"observedGeneration": 1, "conditions": [
      {"type": "Ready", "status": "True", "reason": "Ready", "message": "1 replica ready",
       "lastTransitionTime": "2024-01-01T00:00:00Z"}]})");
  EXPECT_EQ(ready.first, 0) << ready.second;
  EXPECT_TRUE(contains(ready.second, "function.kubefn.dev/quick ready")) << ready.second;

  auto failed = wait_run("broken", R"({"observedGeneration": 1, "conditions": [
      {"type": "Built", "status": "False", "reason": "BuildFailed",
       "message": "broken.cpp:3: error: expected ';'",
       "lastTransitionTime": "2024-01-01T00:00:00Z"},
      {"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "build failed",
       "lastTransitionTime": "2024-01-01T00:00:00Z"}]})");
  EXPECT_EQ(failed.first, 1) << failed.second;
  EXPECT_TRUE(contains(failed.second, "BuildFailed: broken.cpp:3: error: expected ';'"))
      << failed.second;
}

TEST_F(CliE2E, ApplyWaitWithTheRealOperator) {
  ChildProcess op({KUBEFN_OPERATOR_BIN, "--kubeconfig", dir_.file("kubeconfig"), "--metrics-port",
                   "0", "--bind-address", "127.0.0.1", "--identity", "op"},
                  {}, dir_.file("op.out"), dir_.file("op.err"));
  auto applied =
      kf({"apply", "--wait", "--timeout", "60", "-f", "-"},
         function_yaml("pre", "  handler: pre.run\n  image: registry.local/pre:1\n") + "---\n" +
             function_yaml("Bad_Name", "  handler: x.run\n  image: registry.local/x:1\n"));
  // The manifest check refuses the bad name before anything is applied...
  EXPECT_EQ(applied.exit_code, 1);
  EXPECT_TRUE(contains(applied.err, "document 2 (function Bad_Name): InvalidName")) << applied.err;
  // ...and the good one alone goes to Ready through the operator.
  applied = kf({"apply", "--wait", "--timeout", "60", "-f", "-"},
               function_yaml("pre", "  handler: pre.run\n  image: registry.local/pre:1\n"));
  ASSERT_EQ(applied.exit_code, 0) << applied.err << read_file(dir_.file("op.err"));
  EXPECT_TRUE(contains(applied.out, "function.kubefn.dev/pre created")) << applied.out;
  EXPECT_TRUE(contains(applied.out, "function.kubefn.dev/pre ready")) << applied.out;
  EXPECT_TRUE(contains(applied.err, "Ready=True")) << applied.err;

  auto described = kf({"describe", "pre"});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_TRUE(std::regex_search(described.out, std::regex("Built\\s+True\\s+PrebuiltImage")))
      << described.out;
  EXPECT_TRUE(contains(described.out, "DeploymentCreated")) << described.out;
  auto listed = kf({"list"});
  EXPECT_TRUE(std::regex_search(listed.out, std::regex("pre\\s+True\\s+1/1\\s+http://")))
      << listed.out;
}

TEST_F(CliE2E, LocalStateFileSelectsTheLocalPlatform) {
  // No kubeconfig anywhere: without a live `kubefn up` there is nothing to talk to.
  auto none = kubefn({"list"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(contains(none.err, "no platform: start one with `kubefn up`, or pass --kubeconfig"))
      << none.err;

  // A state file whose pid is alive (the emulator's) points kubefn at its API.
  write_state(emulator_->pid(), dir_.file("logs"));
  auto applied = kubefn({"apply", "-f", example("hello")});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_TRUE(contains(applied.out, "function.kubefn.dev/hello created")) << applied.out;
  auto listed = kubefn({"list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(contains(listed.out, "hello")) << listed.out;

  // A dead pid is a stale file: ignored.
  ChildProcess gone({"true"}, {}, dir_.file("t.out"), dir_.file("t.err"));
  ASSERT_TRUE(gone.wait_exit(seconds(10)).has_value());
  write_state(gone.pid(), dir_.file("logs"));
  auto stale = kubefn({"list"});
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_TRUE(contains(stale.err, "no platform")) << stale.err;
}

// A real kubefn-runtime on port 0 standing in for the gateway.
class Runtime {
 public:
  Runtime(const std::string& library, const std::string& handler) {
    std::map<std::string, std::string> env = {{"FUNC_HANDLER", handler},
                                              {"MOD_NAME", "fn"},
                                              {"KUBEFN_FUNCTION_LIB", library},
                                              {"FUNC_PORT", "0"},
                                              {"KUBEFN_BIND_ADDRESS", "127.0.0.1"}};
    child_ = std::make_unique<ChildProcess>(std::vector<std::string>{KUBEFN_RUNTIME_BIN}, env,
                                            dir_.file("out"), dir_.file("err"));
    static const std::regex listening("\"msg\":\"listening\",\"port\":([0-9]+)");
    wait_until(
        [&] {
          std::smatch m;
          const std::string err = read_file(dir_.file("err"));
          if (std::regex_search(err, m, listening)) {
            port_ = std::stoi(m[1]);
            return true;
          }
          return !child_->running();
        },
        seconds(10));
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
};

TEST_F(CliE2E, InvokeThroughTheGateway) {
  Runtime hello(KUBEFN_HELLO_SO, "greet");
  ASSERT_NE(hello.port(), 0);
  auto called = kubefn({"invoke", "hello", "--gateway", hello.url(), "--path", "?name=cli"});
  EXPECT_EQ(called.exit_code, 0) << called.err;
  EXPECT_EQ(called.out, "hello cli\n");
  EXPECT_TRUE(contains(called.err, "HTTP 200")) << called.err;

  // KUBEFN_GATEWAY works as well as --gateway.
  auto by_env = kubefn({"invoke", "hello", "-n", "team"}, {}, {{"KUBEFN_GATEWAY", hello.url()}});
  EXPECT_EQ(by_env.exit_code, 0) << by_env.err;
  EXPECT_EQ(by_env.out, "hello world\n");

  Runtime echo(KUBEFN_ECHO_SO, "echo");
  ASSERT_NE(echo.port(), 0);
  auto posted = kubefn({"invoke", "echo", "--gateway", echo.url(), "-d", "{\"a\":1}", "-H",
                        "Content-Type: application/json"});
  EXPECT_EQ(posted.exit_code, 0) << posted.err;
  EXPECT_EQ(posted.out, "{\"a\":1}");
  auto piped = kubefn({"invoke", "echo", "--gateway", echo.url()}, "from stdin");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, "from stdin");

  Runtime status(KUBEFN_FIXTURE_SO, "status");
  ASSERT_NE(status.port(), 0);
  auto missing = kubefn({"invoke", "x", "--gateway", status.url(), "--path", "?code=404"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "HTTP 404")) << missing.err;
  EXPECT_TRUE(contains(missing.err, "function default/x not found: kubefn list -n default"))
      << missing.err;

  auto usage = kubefn({"invoke", "echo", "--gateway", echo.url(), "-H", "no colon"});
  EXPECT_EQ(usage.exit_code, 2) << usage.err;

  auto nowhere = kubefn({"invoke", "hello", "--gateway", "http://127.0.0.1:1"});
  EXPECT_EQ(nowhere.exit_code, 1);
  EXPECT_TRUE(contains(nowhere.err, "gateway")) << nowhere.err;
}

TEST_F(CliE2E, LogsOfLocalReplicasAndFollow) {
  const std::string logs = dir_.file("logs");
  write_state(emulator_->pid(), logs);
  TempDir unused;
  std::filesystem::create_directories(logs + "/default/hello");
  write_file(logs + "/default/hello/r1.log",
             "{\"msg\":\"listening\"}\n{\"msg\":\"request\",\"status\":200}\n");

  auto all = kubefn({"logs", "hello"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.out, "[r1] {\"msg\":\"listening\"}\n[r1] {\"msg\":\"request\",\"status\":200}\n");
  auto last = kubefn({"logs", "hello", "--tail", "1", "--no-prefix"});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(last.out, "{\"msg\":\"request\",\"status\":200}\n");
  auto none = kubefn({"logs", "nope"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(contains(none.err, "no logs for function default/nope")) << none.err;

  ChildProcess follow({KUBEFN_CLI_BIN, "logs", "hello", "-f", "--tail", "0"}, cli_env(),
                      dir_.file("follow.out"), dir_.file("follow.err"));
  // Lines appended to a running replica's file and a replica that starts later both show up.
  // Append until seen: the follower may start after a first append.
  ASSERT_TRUE(wait_until(
      [&] {
        std::ofstream(logs + "/default/hello/r1.log", std::ios::app) << "{\"n\":1}\n";
        return contains(read_file(dir_.file("follow.out")), "[r1] {\"n\":1}");
      },
      seconds(20), milliseconds(250)))
      << read_file(dir_.file("follow.err"));
  write_file(logs + "/default/hello/r2.log", "{\"msg\":\"r2 up\"}\n");
  EXPECT_TRUE(wait_until(
      [&] { return contains(read_file(dir_.file("follow.out")), "[r2] {\"msg\":\"r2 up\"}"); },
      seconds(20)))
      << read_file(dir_.file("follow.out"));
  EXPECT_FALSE(contains(read_file(dir_.file("follow.out")), "listening"))
      << "--tail 0 prints no old lines";
  EXPECT_TRUE(follow.running());
  follow.signal(SIGTERM);
  EXPECT_TRUE(follow.wait_exit(seconds(10)).has_value());
}

TEST_F(CliE2E, TopFromGatewayMetricsAndFunctionStatus) {
  auto applied = kf({"apply", "-f", example("hello")});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  set_status("hello", R"({"observedGeneration": 1, "replicas": 3, "readyReplicas": 2})");
  // A static /metrics served by a plain HTTP server standing in for the gateway.
  const std::string site = dir_.file("site");
  std::filesystem::create_directories(site);
  write_file(
      site + "/metrics",
      "# TYPE kubefn_gateway_requests_total counter\n"
      "kubefn_gateway_requests_total{namespace=\"default\",function=\"hello\",code=\"200\"} 10\n"
      "kubefn_gateway_inflight_requests{namespace=\"default\",function=\"hello\"} 4\n"
      "kubefn_gateway_upstream_duration_seconds_bucket{namespace=\"default\",function=\"hello\",le="
      "\"0.002\"} 10\n"
      "kubefn_gateway_upstream_duration_seconds_bucket{namespace=\"default\",function=\"hello\",le="
      "\"+Inf\"} 10\n");
  ChildProcess server(
      {"python3", "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", site, "0"}, {},
      dir_.file("http.out"), dir_.file("http.err"));
  std::string port;
  ASSERT_TRUE(wait_until(
      [&] {
        std::smatch m;
        const std::string out = read_file(dir_.file("http.out"));
        static const std::regex re("port ([0-9]+)");
        if (std::regex_search(out, m, re)) {
          port = m[1];
          return true;
        }
        return !server.running();
      },
      seconds(20)))
      << read_file(dir_.file("http.err"));
  ASSERT_FALSE(port.empty()) << read_file(dir_.file("http.err"));
  // The gateway's public port has no /metrics: without --metrics-url (and no local
  // platform) top says where to find them.
  auto no_url = kf({"top", "--gateway", "http://127.0.0.1:" + port, "--interval", "0.2"});
  EXPECT_EQ(no_url.exit_code, 1);
  EXPECT_TRUE(contains(no_url.err, "--metrics-url")) << no_url.err;
  auto top =
      kf({"top", "--metrics-url", "http://127.0.0.1:" + port + "/metrics", "--interval", "0.2"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  EXPECT_TRUE(std::regex_search(top.out, std::regex("NAMESPACE\\s+NAME\\s+REPLICAS\\s+RPS")))
      << top.out;
  // Replicas from the Function's status; in-flight and p50 from the gateway's series.
  EXPECT_TRUE(std::regex_search(
      top.out, std::regex("default\\s+hello\\s+2/3\\s+0\\.0\\s+0\\.0\\s+4\\.0\\s+1\\.0ms")))
      << top.out;
}

TEST_F(CliE2E, UsageVersionAndKubectlPlugin) {
  auto version = kubefn({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(contains(version.out, "kubefn 0.")) << version.out;
  auto unknown = kubefn({"frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(contains(unknown.err, "--help")) << unknown.err;
  auto no_name = kubefn({"describe"});
  EXPECT_EQ(no_name.exit_code, 2);
  auto bad_output = kubefn({"list", "-o", "xml"});
  EXPECT_EQ(bad_output.exit_code, 2);
  auto help = kubefn({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out, "invoke")) << help.out;

  // kubectl finds kubectl-fn on PATH and runs it as `kubectl fn`.
  const auto bin_dir = std::filesystem::path(KUBEFN_CLI_BIN).parent_path();
  ASSERT_TRUE(std::filesystem::exists(bin_dir / "kubectl-fn"));
  const char* path = std::getenv("PATH");
  auto env = cli_env();
  env["PATH"] = bin_dir.string() + ":" + (path != nullptr ? path : "/usr/bin:/bin");
  auto plugin = run_command({kubectl_path(), "fn", "--kubeconfig", dir_.file("kubeconfig"), "list"},
                            env, seconds(60));
  EXPECT_EQ(plugin.exit_code, 0) << plugin.err;
  EXPECT_TRUE(contains(plugin.err, "No functions found in namespace default")) << plugin.err;
}

// An API server without the kubefn.dev group answers a plain "404 page not found" (the
// fidelity suite checks the emulator answers it like kube-apiserver): the CLI says to install
// the CRD, for a list and for one Function, rather than "function not found".
TEST_F(CliE2E, MissingCrdIsNamedWithTheFix) {
  const std::string bare_dir = dir_.file("bare");
  std::filesystem::create_directories(bare_dir);
  auto bare = start_emulator_process(KUBEFN_EMULATOR_BIN, bare_dir);
  ASSERT_TRUE(bare.error.empty()) << bare.error;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"list"}, std::vector<std::string>{"describe", "hello"}}) {
    std::vector<std::string> argv = {"--kubeconfig", bare.kubeconfig};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = kubefn(argv);
    EXPECT_NE(r.exit_code, 0) << args[0];
    EXPECT_TRUE(contains(r.err, "the Function CRD is not installed: kubectl apply -f"))
        << args[0] << ": " << r.err;
  }
  // With the CRD, a missing Function is just that.
  auto missing = kf({"describe", "nope"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_TRUE(contains(missing.err, "function default/nope not found")) << missing.err;
}

}  // namespace
}  // namespace kubefn::testing
