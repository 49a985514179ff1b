// The kubefn CLI against the real control plane: kubefn apply, list, describe, logs and delete
// with a kubeconfig (client certificates over TLS), and the real operator turning the
// Functions into Deployments whose pods kwok runs (it runs no process: `logs` reads the line
// kwok serves for each container, through kube-apiserver's pods/log proxy to the node).
#include <gtest/gtest.h>

#include <regex>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/test_api.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class CliCluster : public ::testing::TestWithParam<ApiKind> {
 protected:
  void SetUp() override {
    home_ = dir_.path() / "home";
    std::filesystem::create_directories(home_);
    api_ = std::make_unique<TestApi>(GetParam(), KUBEFN_EMULATOR_BIN, dir_.path().string(),
                                     "cli", test_kubectl(KUBEFN_DEFAULT_KUBECTL));
    ASSERT_TRUE(api_->error().empty()) << api_->error();
    const std::string crd = api_->install_crd(
        std::string(KUBEFN_SOURCE_DIR) + "/crds/function.yaml", "functions.kubefn.dev");
    ASSERT_TRUE(crd.empty()) << crd;
  }

  // kubefn with the test's kubeconfig and a home of its own (no real ~/.kube or ~/.kubefn).
  CommandResult kf(std::vector<std::string> args, const std::string& stdin_text = {}) {
    std::vector<std::string> argv = {KUBEFN_CLI_BIN, "--kubeconfig", api_->kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv,
                       {{"HOME", home_.string()},
                        {"KUBEFN_HOME", (home_ / ".kubefn").string()},
                        {"KUBECONFIG", ""},
                        {"KUBEFN_GATEWAY", ""}},
                       seconds(90), stdin_text);
  }

  CommandResult kubectl(std::vector<std::string> args, const std::string& stdin_text = {}) {
    std::vector<std::string> argv = {test_kubectl(KUBEFN_DEFAULT_KUBECTL), "--kubeconfig",
                                     api_->kubeconfig(), "--cache-dir", dir_.file("kube-cache")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {}, seconds(60), stdin_text);
  }

  // An example's manifest, moved into the test's namespace.
  std::string example(const std::string& name) const {
    std::string text =
        read_file(std::string(KUBEFN_SOURCE_DIR) + "/examples/" + name + "/function.yaml");
    const std::string from = "namespace: default";
    if (auto at = text.find(from); at != std::string::npos) {
      text.replace(at, from.size(), "namespace: " + api_->ns());
    }
    return text;
  }

  TempDir dir_;
  std::filesystem::path home_;
  std::unique_ptr<TestApi> api_;
};

TEST_P(CliCluster, ApplyListDescribeLogsDeleteWithTheRealOperator) {
  const std::string ns = api_->ns();
  ChildProcess op({KUBEFN_OPERATOR_BIN, "--kubeconfig", api_->kubeconfig(), "--metrics-port", "0",
                   "--bind-address", "127.0.0.1", "--identity", "op", "--namespaces", ns},
                  {}, dir_.file("op.out"), dir_.file("op.err"));
  const std::string manifest =
      "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata:\n  name: pre\n  namespace: " +
      ns + "\nspec:\n  handler: pre.run\n  image: registry.local/pre:1\n";
  auto applied = kf({"apply", "--wait", "--timeout", "60", "-f", "-"}, manifest);
  ASSERT_EQ(applied.exit_code, 0) << applied.err << read_file(dir_.file("op.err"));
  EXPECT_TRUE(contains(applied.out, "function.kubefn.dev/pre created")) << applied.out;
  EXPECT_TRUE(contains(applied.out, "function.kubefn.dev/pre ready")) << applied.out;

  // A source Function: stored, then waiting for a build (no registry is configured).
  auto echo = kf({"apply", "-f", "-"}, example("echo"));
  ASSERT_EQ(echo.exit_code, 0) << echo.err;

  auto listed = kf({"list", "-n", ns});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(std::regex_search(listed.out, std::regex("pre\\s+True\\s+1/1\\s+http://")))
      << listed.out;
  EXPECT_TRUE(std::regex_search(listed.out, std::regex("\\necho\\s+"))) << listed.out;

  auto described = kf({"describe", "pre", "-n", ns});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_TRUE(std::regex_search(described.out, std::regex("Built\\s+True\\s+PrebuiltImage")))
      << described.out;
  EXPECT_TRUE(contains(described.out, "DeploymentCreated")) << described.out;

  // Logs come through kube-apiserver from the node the scheduler placed the pod on.
  auto logs = kf({"logs", "pre", "-n", ns});
  ASSERT_EQ(logs.exit_code, 0) << logs.err;
  EXPECT_TRUE(std::regex_search(logs.out, std::regex("^\\[pre-[a-z0-9]+-[a-z0-9]+\\] kwok")))
      << logs.out;

  auto missing = kf({"describe", "nope", "-n", ns});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(contains(missing.err, "function " + ns + "/nope not found")) << missing.err;

  auto deleted = kf({"delete", "pre", "-n", ns, "--wait"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(contains(deleted.out, "function.kubefn.dev/pre deleted")) << deleted.out;
  // The garbage collector takes what the operator made for it (within its 30 s discovery
  // resync when the CRD is new to it).
  EXPECT_TRUE(wait_until(
      [&] {
        auto left = kubectl({"get", "deploy,rs,pods,svc", "-l", "kubefn.dev/function=pre", "-o",
                             "name"});
        return left.exit_code == 0 && left.out.empty();
      },
      seconds(60), milliseconds(200)));
  auto by_file = kf({"delete", "-f", "-"}, example("echo"));
  ASSERT_EQ(by_file.exit_code, 0) << by_file.err;
  auto empty = kf({"list", "-n", ns});
  ASSERT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(contains(empty.err, "No functions found in namespace " + ns)) << empty.err;
}

// Only the real cluster has pods, nodes and their logs.
KUBEFN_ON_CLUSTER(CliCluster);

}  // namespace
}  // namespace kubefn::testing
