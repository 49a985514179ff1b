// The fake deployment controller and garbage collector, and TLS with a bearer token.

#include "emulator_fixture.hpp"

namespace kubefn::emulator::testing {
namespace {

using nlohmann::json;

json owned_by(const json& owner, const std::string& name) {
  auto cm = config_map(name);
  cm["metadata"]["ownerReferences"] = json::array({{{"apiVersion", owner["apiVersion"]},
                                                    {"kind", owner["kind"]},
                                                    {"name", owner["metadata"]["name"]},
                                                    {"uid", owner["metadata"]["uid"]},
                                                    {"controller", true},
                                                    {"blockOwnerDeletion", true}}});
  return cm;
}

class GarbageCollectorTest : public EmulatorTest {
 protected:
  bool gone(const std::string& path) { return http_.get(path).status == 404; }
};

TEST_F(GarbageCollectorTest, BackgroundDeletesDependentsOfAMissingOwner) {
  const auto owner = create(kDeployments, deployment("web", 1));
  create(kConfigMaps, owned_by(owner, "child"));
  ASSERT_EQ(
      http_.del(std::string(kDeployments) + "/web", {{"propagationPolicy", "Background"}}).status,
      200);
  EXPECT_TRUE(wait_until([&] { return gone(std::string(kConfigMaps) + "/child"); },
                         std::chrono::seconds(5)));
}

TEST_F(GarbageCollectorTest, ForegroundWaitsForDependents) {
  const auto owner = create(kDeployments, deployment("web", 1));
  auto child = owned_by(owner, "child");
  child["metadata"]["finalizers"] = {"emulator.kubefn.dev/hold"};
  create(kConfigMaps, child);
  auto r = http_.del(std::string(kDeployments) + "/web", {{"propagationPolicy", "Foreground"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.json()["metadata"]["finalizers"][0], "foregroundDeletion");
  // The child is being deleted but holds; so does the owner.
  ASSERT_TRUE(wait_until(
      [&] {
        return http_.get(std::string(kConfigMaps) + "/child")
            .json()["metadata"]
            .contains("deletionTimestamp");
      },
      std::chrono::seconds(5)));
  EXPECT_EQ(http_.get(std::string(kDeployments) + "/web").status, 200);
  http_.patch(std::string(kConfigMaps) + "/child", {{"metadata", {{"finalizers", nullptr}}}});
  EXPECT_TRUE(wait_until([&] { return gone(std::string(kDeployments) + "/web"); },
                         std::chrono::seconds(5)));
}

TEST_F(GarbageCollectorTest, OrphanReleasesDependents) {
  const auto owner = create(kDeployments, deployment("web", 1));
  create(kConfigMaps, owned_by(owner, "child"));
  ASSERT_EQ(http_.del(std::string(kDeployments) + "/web", {{"propagationPolicy", "Orphan"}}).status,
            200);
  EXPECT_TRUE(wait_until([&] { return gone(std::string(kDeployments) + "/web"); },
                         std::chrono::seconds(5)));
  auto child = http_.get(std::string(kConfigMaps) + "/child");
  ASSERT_EQ(child.status, 200);
  EXPECT_FALSE(child.json()["metadata"].contains("ownerReferences"));
}

class DeploymentControllerTest : public EmulatorTest {
 protected:
  DeploymentControllerTest() : EmulatorTest(options()) {}
  static EmulatorOptions options() {
    EmulatorOptions o;
    o.deployment_ready_delay_ms = 1000;
    return o;
  }
  json status() {
    return http_.get(std::string(kDeployments) + "/web").json().value("status", json::object());
  }
};

TEST_F(DeploymentControllerTest, ReadyReplicasFollowSpecAfterTheDelay) {
  const auto start = std::chrono::steady_clock::now();
  create(kDeployments, deployment("web", 2));
  EXPECT_FALSE(status().contains("readyReplicas"));
  ASSERT_TRUE(
      wait_until([&] { return status().value("readyReplicas", 0) == 2; }, std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));
  EXPECT_EQ(status()["observedGeneration"], 1);
  auto r = http_.patch(std::string(kDeployments) + "/web/scale", {{"spec", {{"replicas", 3}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"]["selector"], "app=web");
  ASSERT_TRUE(
      wait_until([&] { return status().value("readyReplicas", 0) == 3; }, std::chrono::seconds(5)));
  EXPECT_EQ(status()["observedGeneration"], 2);
}

class TlsTest : public EmulatorTest {
 protected:
  TlsTest() : EmulatorTest(options()) {}
  static EmulatorOptions options() {
    EmulatorOptions o;
    o.tls = true;
    o.token = "s3cret";
    return o;
  }
};

TEST_F(TlsTest, RequiresTheBearerToken) {
  EXPECT_EQ(emu_.url().rfind("https://", 0), 0u);
  EXPECT_NE(emu_.ca_pem().find("BEGIN CERTIFICATE"), std::string::npos);
  auto r = http_.request("GET", "/api/v1/namespaces", "",
                         RequestOptions{"", "application/json", "wrong"});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.json()["reason"], "Unauthorized");
  EXPECT_EQ(http_.get("/api/v1/namespaces").status, 401);
  r = http_.request("GET", "/api/v1/namespaces", "",
                    RequestOptions{"", "application/json", "s3cret"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(http_.get("/healthz").status, 200);
}

class AllowedHostsTest : public EmulatorTest {
 protected:
  AllowedHostsTest() : EmulatorTest(options()) {}
  static EmulatorOptions options() {
    EmulatorOptions o;
    o.allowed_hosts = {"127.0.0.1", "localhost", "::1"};
    return o;
  }
  HttpReply get_as(const std::string& host, const std::string& target = "/api/v1/namespaces") {
    RequestOptions o;
    o.host = host;
    return http_.request("GET", target, "", o);
  }
};

TEST_F(AllowedHostsTest, OnlyThisServersOwnNamesAreAnswered) {
  const std::string port = std::to_string(emu_.port());
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port,
                                                          "LocalHost:" + port, "[::1]:" + port}) {
    EXPECT_EQ(get_as(host).status, 200) << host;
  }
  // A rebound name, another port, no port, no Host at all: refused, health checks too.
  for (const std::string& host :
       std::vector<std::string>{"evil.example:" + port, "localhost.evil.example:" + port,
                                "127.0.0.1:1", "localhost", "::1:" + port, ""}) {
    auto r = get_as(host);
    EXPECT_EQ(r.status, 403) << host;
    EXPECT_EQ(r.json()["kind"], "Status") << r.body;
    EXPECT_EQ(r.json()["reason"], "Forbidden") << r.body;
    EXPECT_EQ(r.json()["message"],
              "Host \"" + host + "\" is not this server's: it answers only 127.0.0.1:" + port +
                  ", localhost:" + port + ", [::1]:" + port +
                  " (a name that resolves here is not enough)");
  }
  EXPECT_EQ(get_as("evil.example:" + port, "/healthz").status, 403);
  RequestOptions write;
  write.host = "evil.example:" + port;
  EXPECT_EQ(http_.request("POST", kConfigMaps, config_map("c").dump(), write).status, 403);
  EXPECT_FALSE(emu_.get(std::string(kConfigMaps) + "/c").has_value());
}

TEST_F(EmulatorTest, AnyHostByDefaultAsTheRealServer) {
  RequestOptions o;
  o.host = "anything.example:1";
  EXPECT_EQ(http_.request("GET", "/api/v1/namespaces", "", o).status, 200);
}

}  // namespace
}  // namespace kubefn::emulator::testing
