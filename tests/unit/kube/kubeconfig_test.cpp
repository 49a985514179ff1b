#include "kubefn/kube/kubeconfig.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "kubefn/oci/credentials.hpp"
#include "kubefn/testing/status_matchers.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::kube {
namespace {

using kubefn::oci::base64_encode;
using kubefn::testing::IsOk;
using kubefn::testing::StatusIs;
using kubefn::testing::TempDir;

const std::string kCaPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

std::string kubeconfig(const std::string& server, const std::string& user_body,
                       const std::string& extra_cluster = "", const std::string& current = "emu") {
  return "apiVersion: v1\nkind: Config\ncurrent-context: " + current +
         "\n"
         "clusters:\n- name: emu\n  cluster:\n    server: " +
         server + "\n" + extra_cluster +
         "contexts:\n"
         "- name: emu\n  context: {cluster: emu, user: emu, namespace: team-a}\n"
         "- name: other\n  context: {cluster: missing, user: emu}\n"
         "- name: nouser\n  context: {cluster: emu, user: ghost}\n"
         "users:\n- name: emu\n  user:\n" +
         user_body;
}

struct BadCase {
  const char* name;
  std::string yaml;
  KubeconfigOverrides overrides;
  std::string expected_message_part;
};

class KubeconfigRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(KubeconfigRejects, WithAnActionableMessage) {
  const BadCase& c = GetParam();
  TempDir dir;
  auto config = parse_kubeconfig(c.yaml, dir.path(), c.overrides);
  ASSERT_THAT(config, StatusIs(StatusCode::kInvalidConfig));
  EXPECT_NE(config.status().message().find(c.expected_message_part), std::string::npos)
      << config.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    BadInputs, KubeconfigRejects,
    ::testing::Values(
        BadCase{"NotYaml", "clusters: [unclosed", {}, "not valid YAML"},
        BadCase{"NotAMap", "- a\n- b\n", {}, "not a map"},
        BadCase{"NoCurrentContext",
                kubeconfig("https://h:1", "    token: t\n", "", "\"\""),
                {},
                "no current-context"},
        BadCase{"MissingContext",
                kubeconfig("https://h:1", "    token: t\n"),
                {"nope", ""},
                "context \"nope\" not found"},
        BadCase{"UnknownCluster",
                kubeconfig("https://h:1", "    token: t\n"),
                {"other", ""},
                "cluster \"missing\""},
        BadCase{"UnknownUser",
                kubeconfig("https://h:1", "    token: t\n"),
                {"nouser", ""},
                "user \"ghost\""},
        BadCase{"BadBase64CA",
                kubeconfig("https://h:1", "    token: t\n",
                           "    certificate-authority-data: '@@not base64@@'\n"),
                {},
                "not valid base64"},
        BadCase{"BadBase64ClientKey",
                kubeconfig("https://h:1", "    client-certificate-data: " + base64_encode("cert") +
                                              "\n    client-key-data: 'abc$'\n"),
                {},
                "not valid base64"},
        BadCase{"MissingCAFile",
                kubeconfig("https://h:1", "    token: t\n",
                           "    certificate-authority: no-such-ca.crt\n"),
                {},
                "no-such-ca.crt"},
        BadCase{"MissingTokenFile",
                kubeconfig("https://h:1", "    tokenFile: no-such-token\n"),
                {},
                "no-such-token"},
        BadCase{"TokenOverPlainHttp",
                kubeconfig("http://h:1", "    token: secret\n"),
                {},
                "refusing to send credentials over plain http"},
        BadCase{"ClientCertOverPlainHttp",
                kubeconfig("http://h:1", "    client-certificate-data: " + base64_encode("c") +
                                             "\n    client-key-data: " + base64_encode("k") + "\n"),
                {},
                "refusing to send credentials"},
        BadCase{
            "CertWithoutKey",
            kubeconfig("https://h:1", "    client-certificate-data: " + base64_encode("c") + "\n"),
            {},
            "needs its key"},
        BadCase{"ExecPlugin",
                kubeconfig("https://h:1", "    exec: {command: aws}\n"),
                {},
                "not supported"},
        BadCase{"NoServer",
                "current-context: c\nclusters:\n- name: k\n  cluster: {}\ncontexts:\n- name: c\n"
                "  context: {cluster: k}\n",
                {},
                "has no server"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

TEST(Kubeconfig, ReadsTokenCaAndNamespace) {
  TempDir dir;
  auto config =
      parse_kubeconfig(kubeconfig("https://127.0.0.1:6443", "    token: abc\n",
                                  "    certificate-authority-data: " + base64_encode(kCaPem) +
                                      "\n    tls-server-name: kubernetes.default.svc\n"),
                       dir.path());
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->token, "abc");
  EXPECT_EQ(config->tls_server_name, "kubernetes.default.svc");
  EXPECT_EQ(config->default_namespace, "team-a");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST(Kubeconfig, ResolvesFilesRelativeToTheKubeconfig) {
  TempDir dir;
  dir.write("certs/ca.crt", kCaPem);
  dir.write("certs/client.crt", "CERT");
  dir.write("certs/client.key", "KEY");
  const auto token_file = dir.write("token", "file-token\n");
  auto config = parse_kubeconfig(
      kubeconfig("https://h:1",
                 "    tokenFile: token\n    client-certificate: certs/client.crt\n"
                 "    client-key: certs/client.key\n",
                 "    certificate-authority: certs/ca.crt\n    insecure-skip-tls-verify: true\n"),
      dir.path());
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->ca_pem, kCaPem);
  EXPECT_EQ(config->token_file, token_file.string());
  EXPECT_EQ(config->client_certificate_pem, "CERT");
  EXPECT_EQ(config->client_key_pem, "KEY");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
}

TEST(Kubeconfig, PlainHttpWithoutCredentialsIsAllowed) {
  TempDir dir;
  auto config = parse_kubeconfig(
      "current-context: c\nclusters:\n- name: k\n  cluster: {server: 'http://127.0.0.1:8080'}\n"
      "contexts:\n- name: c\n  context: {cluster: k}\n",
      dir.path());
  ASSERT_THAT(config, IsOk());
  EXPECT_FALSE(config->uses_tls());
  EXPECT_EQ(config->default_namespace, "default");
}

TEST(Kubeconfig, OverridesPickContextAndNamespace) {
  TempDir dir;
  const std::string yaml =
      "current-context: a\n"
      "clusters:\n- name: one\n  cluster: {server: 'https://one:1'}\n"
      "- name: two\n  cluster: {server: 'https://two:2'}\n"
      "contexts:\n- name: a\n  context: {cluster: one, namespace: ns-a}\n"
      "- name: b\n  context: {cluster: two, namespace: ns-b}\n";
  auto chosen = parse_kubeconfig(yaml, dir.path(), {"b", ""});
  ASSERT_THAT(chosen, IsOk());
  EXPECT_EQ(chosen->server, "https://two:2");
  EXPECT_EQ(chosen->default_namespace, "ns-b");
  auto renamed = parse_kubeconfig(yaml, dir.path(), {"", "elsewhere"});
  ASSERT_THAT(renamed, IsOk());
  EXPECT_EQ(renamed->server, "https://one:1");
  EXPECT_EQ(renamed->default_namespace, "elsewhere");
}

TEST(Kubeconfig, MergesFilesFirstWins) {
  TempDir dir;
  const auto first = dir.write(
      "first",
      "current-context: a\nclusters:\n- name: k\n  cluster: {server: 'https://first:1'}\n");
  const auto second = dir.write(
      "second",
      "current-context: ignored\nclusters:\n- name: k\n  cluster: {server: 'https://second:2'}\n"
      "contexts:\n- name: a\n  context: {cluster: k, user: u}\n"
      "users:\n- name: u\n  user: {token: from-second}\n");
  auto config = load_kubeconfig({dir.path() / "absent", first, second});
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->server, "https://first:1");
  EXPECT_EQ(config->token, "from-second");
}

TEST(Kubeconfig, NoFilesIsAnError) {
  TempDir dir;
  auto config = load_kubeconfig({dir.path() / "absent"});
  ASSERT_THAT(config, StatusIs(StatusCode::kInvalidConfig));
}

TEST(Kubeconfig, FilesComeFromKubeconfigVariableOrHome) {
  std::map<std::string, std::string> env{{"KUBECONFIG", "/a/one:/b/two::"}, {"HOME", "/home/u"}};
  auto lookup = [&env](const std::string& name) -> std::optional<std::string> {
    const auto found = env.find(name);
    if (found == env.end()) return std::nullopt;
    return found->second;
  };
  auto files = kubeconfig_files_from_env(lookup);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], "/a/one");
  EXPECT_EQ(files[1], "/b/two");
  env.erase("KUBECONFIG");
  files = kubeconfig_files_from_env(lookup);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], "/home/u/.kube/config");
}

}  // namespace
}  // namespace kubefn::kube
