// The runtime's environment, one contract for every platform: what it holds, and that the
// Kubernetes platform's Deployment carries it as it is, in its order, before spec.env.
#include "kubefn/controller/runtime_env.hpp"

#include <gtest/gtest.h>

#include <map>

#include "kubefn/platform/kubernetes/desired.hpp"

namespace kubefn::controller {
namespace {

using nlohmann::json;

FunctionSpec spec_of(std::int64_t timeout_seconds) {
  FunctionSpec spec;
  spec.name = "hello";
  spec.ns = "default";
  spec.module = "hello";
  spec.handler_name = "greet";
  spec.runtime = "cpp20";
  spec.timeout_seconds = timeout_seconds;
  return spec;
}

std::map<std::string, RuntimeEnvVar> by_name(const std::vector<RuntimeEnvVar>& env) {
  std::map<std::string, RuntimeEnvVar> out;
  for (const auto& v : env)
    out[v.name] = v;
  return out;
}

TEST(RuntimeEnv, DrainsForTheTimeoutAndFiveSecondsMore) {
  for (std::int64_t timeout : {1, 30, 180, 900}) {
    const auto env = by_name(runtime_env(spec_of(timeout), {"/kubefn", 8080, ""}));
    EXPECT_EQ(env.at("KUBEFN_DRAIN_TIMEOUT_MS").value, std::to_string(timeout * 1000 + 5000));
    EXPECT_EQ(env.at("FUNC_TIMEOUT").value, std::to_string(timeout));
  }
}

TEST(RuntimeEnv, NamesTheFunctionAndLeavesThePortAndReportsToTheCaller) {
  const auto local = by_name(runtime_env(spec_of(30), {"/var/lib/kubefn/builds/x", {}, ""}));
  EXPECT_EQ(local.at("MOD_NAME").value, "hello");
  EXPECT_EQ(local.at("FUNC_HANDLER").value, "greet");
  EXPECT_EQ(local.at("FUNC_RUNTIME").value, "cpp20");
  EXPECT_EQ(local.at("KUBEFN_FUNCTION_NAME").value, "hello");
  EXPECT_EQ(local.at("KUBEFN_FUNCTION_DIR").value, "/var/lib/kubefn/builds/x");
  EXPECT_EQ(local.count("FUNC_PORT"), 0u) << "the replica's starter picks the port";
  EXPECT_EQ(local.count("KUBEFN_STATS_ADDRESS"), 0u);
  EXPECT_EQ(local.at("POD_NAME").from, RuntimeEnvVar::From::kReplicaName);
  EXPECT_EQ(local.at("POD_NAMESPACE").from, RuntimeEnvVar::From::kReplicaNamespace);
  EXPECT_EQ(local.at("FUNC_MEMORY_LIMIT").from, RuntimeEnvVar::From::kMemoryLimit);
  const auto pod = by_name(runtime_env(spec_of(30), {"/kubefn", 8080, "ops:9091"}));
  EXPECT_EQ(pod.at("FUNC_PORT").value, "8080");
  EXPECT_EQ(pod.at("KUBEFN_STATS_ADDRESS").value, "ops:9091");
}

TEST(RuntimeEnv, TheDeploymentCarriesItInOrderBeforeSpecEnv) {
  FunctionSpec spec = spec_of(30);
  spec.uid = "uid-hello";
  spec.env = json::array({{{"name", "MODE"}, {"value", "fast"}}});
  const json dep = platform::kubernetes::make_deployment(spec, {"img", "", "", 1, "ops:9091"});
  const json& env = dep["spec"]["template"]["spec"]["containers"][0]["env"];
  const auto want = runtime_env(spec, {"/kubefn", platform::kubernetes::kFunctionPort, "ops:9091"});
  ASSERT_EQ(env.size(), want.size() + 1);
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(env[i]["name"], want[i].name) << i;
    if (want[i].from == RuntimeEnvVar::From::kLiteral) {
      EXPECT_EQ(env[i]["value"], want[i].value) << want[i].name;
    } else {
      EXPECT_TRUE(env[i].contains("valueFrom")) << want[i].name;
    }
  }
  EXPECT_EQ(env.back()["name"], "MODE");
}

}  // namespace
}  // namespace kubefn::controller
