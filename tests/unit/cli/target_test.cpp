#include "kubefn/cli/target.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace kubefn::cli {
namespace {

const char* kKubeconfig = R"(apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "http://127.0.0.1:6443"}
- name: c2
  cluster: {server: "http://127.0.0.1:7443"}
users:
- name: u
  user: {}
contexts:
- name: one
  context: {cluster: c1, user: u, namespace: team}
- name: two
  context: {cluster: c2, user: u}
current-context: one
)";

// A world made of a few files, environment variables and live pids.
struct FakeWorld {
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> files;
  std::set<long> live;

  TargetEnvironment environment() {
    TargetEnvironment e;
    e.env = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    e.pid_alive = [this](long pid) { return live.count(pid) != 0; };
    e.file_exists = [this](const std::filesystem::path& p) { return files.count(p.string()) != 0; };
    e.read_file = [this](const std::filesystem::path& p) -> std::optional<std::string> {
      auto it = files.find(p.string());
      if (it == files.end()) return std::nullopt;
      return it->second;
    };
    return e;
  }
};

const char* kState =
    R"({"pid": 42, "api": "http://127.0.0.1:1000", "gateway": "http://127.0.0.1:1001",
        "metrics": "http://127.0.0.1:1002/metrics", "logs": "/var/kf/logs"})";

TEST(Target, NothingAtAllSaysWhatToDo) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  auto t = select_target({}, world.environment());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "no platform: start one with `kubefn up`, or pass --kubeconfig");
}

TEST(Target, LiveLocalStateWinsOverDefaultKubeconfig) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.files["/home/u/.kube/config"] = kKubeconfig;
  world.files["/home/u/.kubefn/up.json"] = kState;
  world.live.insert(42);
  auto t = select_target({}, world.environment());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind, Target::Kind::kLocal);
  EXPECT_EQ(t->api.server, "http://127.0.0.1:1000");
  EXPECT_EQ(t->gateway, "http://127.0.0.1:1001");
  EXPECT_EQ(t->metrics, "http://127.0.0.1:1002/metrics");
  EXPECT_EQ(t->logs_dir, "/var/kf/logs");
  EXPECT_EQ(t->ns, "default");
}

TEST(Target, KubefnHomeMovesTheStateFile) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.env["KUBEFN_HOME"] = "/tmp/kf";
  world.files["/tmp/kf/up.json"] = kState;
  world.live.insert(42);
  TargetFlags flags;
  flags.ns = "dev";
  flags.gateway = "http://gw:1";
  auto t = select_target(flags, world.environment());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind, Target::Kind::kLocal);
  EXPECT_EQ(t->ns, "dev");
  EXPECT_EQ(t->gateway, "http://gw:1");  // --gateway beats the state file
}

TEST(Target, DeadPidFallsBackToKubeconfig) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.files["/home/u/.kube/config"] = kKubeconfig;
  world.files["/home/u/.kubefn/up.json"] = kState;  // pid 42 is not alive
  auto t = select_target({}, world.environment());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind, Target::Kind::kCluster);
  EXPECT_EQ(t->api.server, "http://127.0.0.1:6443");
  EXPECT_EQ(t->ns, "team");  // the context's namespace
}

TEST(Target, DeadPidAndNoKubeconfigIsTheNoPlatformError) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.files["/home/u/.kubefn/up.json"] = kState;
  auto t = select_target({}, world.environment());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("kubefn up"), std::string::npos);
}

TEST(Target, ExplicitKubeconfigOrContextMeansTheCluster) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.env["KUBEFN_GATEWAY"] = "http://gw.example:80";
  world.files["/etc/kc"] = kKubeconfig;
  world.files["/home/u/.kube/config"] = kKubeconfig;
  world.files["/home/u/.kubefn/up.json"] = kState;
  world.live.insert(42);

  TargetFlags by_file;
  by_file.kubeconfig = "/etc/kc";
  auto t = select_target(by_file, world.environment());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind, Target::Kind::kCluster);
  EXPECT_EQ(t->gateway, "http://gw.example:80");

  TargetFlags by_context;
  by_context.context = "two";
  by_context.ns = "x";
  t = select_target(by_context, world.environment());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind, Target::Kind::kCluster);
  EXPECT_EQ(t->api.server, "http://127.0.0.1:7443");
  EXPECT_EQ(t->ns, "x");

  by_context.ns.clear();
  t = select_target(by_context, world.environment());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ns, "default");  // context two has no namespace

  TargetFlags missing;
  missing.kubeconfig = "/nope";
  t = select_target(missing, world.environment());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("/nope"), std::string::npos);
}

TEST(Target, KubeconfigEnvListIsTheFallback) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.env["KUBECONFIG"] = "/a/missing:/b/kc";
  world.files["/b/kc"] = kKubeconfig;
  auto t = select_target({}, world.environment());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind, Target::Kind::kCluster);
}

// What `kubefn up` writes now: up.json names a kubeconfig with the CA and the token.
const char* kStateWithKubeconfig =
    R"({"pid": 42, "api": "https://127.0.0.1:1000", "kubeconfig": "/home/u/.kubefn/kubeconfig",
        "gateway": "http://127.0.0.1:1001", "metrics": "", "logs": "/var/kf/logs"})";

const char* kUpKubeconfig = R"(apiVersion: v1
kind: Config
clusters:
- name: kubefn-up
  cluster:
    server: https://127.0.0.1:1000
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
users:
- name: kubefn-up
  user: {token: s3cret}
contexts:
- name: kubefn-up
  context: {cluster: kubefn-up, user: kubefn-up, namespace: default}
current-context: kubefn-up
)";

TEST(Target, LocalStateWithKubeconfigCarriesTheTokenAndCa) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.files["/home/u/.kubefn/up.json"] = kStateWithKubeconfig;
  world.files["/home/u/.kubefn/kubeconfig"] = kUpKubeconfig;
  world.live.insert(42);
  TargetFlags flags;
  flags.ns = "team";
  auto t = select_target(flags, world.environment());
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->kind, Target::Kind::kLocal);
  EXPECT_EQ(t->api.server, "https://127.0.0.1:1000");
  EXPECT_EQ(t->api.token, "s3cret");
  EXPECT_EQ(t->api.ca_pem, "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(t->ns, "team");
  EXPECT_EQ(t->api.default_namespace, "team");
  EXPECT_EQ(t->gateway, "http://127.0.0.1:1001");
  EXPECT_EQ(t->logs_dir, "/var/kf/logs");
}

TEST(Target, LocalStateWhoseKubeconfigCannotBeReadSaysWhy) {
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.files["/home/u/.kube/config"] = kKubeconfig;  // not a fallback: the platform is live
  world.files["/home/u/.kubefn/up.json"] = kStateWithKubeconfig;
  world.live.insert(42);
  auto t = select_target({}, world.environment());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "cannot read /home/u/.kubefn/kubeconfig, the kubeconfig of kubefn up (pid 42): run "
            "kubefn as the user who started it, or pass --kubeconfig");

  world.files["/home/u/.kubefn/kubeconfig"] = "clusters: [";
  t = select_target({}, world.environment());
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message().rfind("kubeconfig /home/u/.kubefn/kubeconfig: ", 0), 0u)
      << t.status().message();
}

TEST(Target, StateFileParsing) {
  auto state = parse_local_state(kState);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->pid, 42);
  EXPECT_EQ(state->kubeconfig, "");
  state = parse_local_state(kStateWithKubeconfig);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->kubeconfig, "/home/u/.kubefn/kubeconfig");
  EXPECT_FALSE(parse_local_state("{").ok());
  EXPECT_FALSE(parse_local_state(R"({"api": "http://x"})").ok());
  FakeWorld world;
  world.env["HOME"] = "/home/u";
  world.files["/home/u/.kubefn/up.json"] = "garbage";
  EXPECT_FALSE(select_target({}, world.environment()).ok());
}

}  // namespace
}  // namespace kubefn::cli
