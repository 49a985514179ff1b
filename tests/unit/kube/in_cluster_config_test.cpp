#include "kubefn/kube/in_cluster_config.hpp"

#include <gtest/gtest.h>

#include <map>

#include "kubefn/testing/status_matchers.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::kube {
namespace {

using kubefn::testing::IsOk;
using kubefn::testing::TempDir;
using ::testing::Not;

EnvLookup fake_env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

InClusterOptions options_for(const TempDir& dir, std::map<std::string, std::string> env) {
  InClusterOptions options;
  options.service_account_dir = dir.path();
  options.env = fake_env(std::move(env));
  return options;
}

const std::map<std::string, std::string> kServiceEnv{{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                     {"KUBERNETES_SERVICE_PORT", "443"}};

TEST(InClusterConfig, NotInClusterWithoutServiceVariables) {
  TempDir dir;
  auto config = in_cluster_config(options_for(dir, {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}}));
  ASSERT_THAT(config, Not(IsOk()));
  EXPECT_NE(config.status().message().find("not running in a cluster"), std::string::npos);
}

TEST(InClusterConfig, MissingTokenIsAnError) {
  TempDir dir;
  dir.write("ca.crt", "CA");
  auto config = in_cluster_config(options_for(dir, kServiceEnv));
  ASSERT_THAT(config, Not(IsOk()));
  EXPECT_NE(config.status().message().find("token"), std::string::npos);
}

TEST(InClusterConfig, MissingCaIsAnError) {
  TempDir dir;
  dir.write("token", "t");
  auto config = in_cluster_config(options_for(dir, kServiceEnv));
  ASSERT_THAT(config, Not(IsOk()));
  EXPECT_NE(config.status().message().find("CA"), std::string::npos);
}

TEST(InClusterConfig, ReadsServiceAccountDirectory) {
  TempDir dir;
  const auto token = dir.write("token", "sa-token\n");
  dir.write("ca.crt", "CA PEM");
  dir.write("namespace", "kubefn-system\n");
  auto config = in_cluster_config(options_for(dir, kServiceEnv));
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->token_file, token.string());
  EXPECT_TRUE(config->token.empty()) << "the token is read by the client, not cached here";
  EXPECT_EQ(config->ca_pem, "CA PEM");
  EXPECT_EQ(config->default_namespace, "kubefn-system");
}

TEST(InClusterConfig, BracketsIpv6AndDefaultsNamespace) {
  TempDir dir;
  dir.write("token", "t");
  dir.write("ca.crt", "CA");
  auto config = in_cluster_config(options_for(
      dir, {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}}));
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->server, "https://[fd00::1]:6443");
  EXPECT_EQ(config->default_namespace, "default");
}

TEST(LoadConfig, AnExplicitKubeconfigAndContextWinOverTheEnvironment) {
  TempDir dir;
  const auto file = dir.write("config",
                              "apiVersion: v1\nkind: Config\nclusters:\n"
                              "- name: a\n  cluster: {server: 'http://127.0.0.1:1'}\n"
                              "- name: b\n  cluster: {server: 'http://127.0.0.1:2'}\n"
                              "users:\n- name: u\n  user: {}\ncontexts:\n"
                              "- name: a\n  context: {cluster: a, user: u}\n"
                              "- name: b\n  context: {cluster: b, user: u}\n"
                              "current-context: a\n");
  const auto env = fake_env({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}});
  auto current = load_config(file.string(), "", env);
  ASSERT_THAT(current, IsOk());
  EXPECT_EQ(current->server, "http://127.0.0.1:1");
  auto chosen = load_config(file.string(), "b", env);
  ASSERT_THAT(chosen, IsOk());
  EXPECT_EQ(chosen->server, "http://127.0.0.1:2");
  // No --kubeconfig: the default chain, here in-cluster without its variables complete.
  auto fallback = load_config("", "b", env);
  ASSERT_THAT(fallback, Not(IsOk()));
  EXPECT_NE(fallback.status().message().find("not running in a cluster"), std::string::npos)
      << fallback.status().to_string();
}

}  // namespace
}  // namespace kubefn::kube
