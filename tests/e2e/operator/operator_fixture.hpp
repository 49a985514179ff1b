// The operator end-to-end fixture: the API (the emulator binary, or a namespace of the test's
// own on the real cluster), a kubeconfig for it, the CRD applied with a real kubectl, and
// operator processes started on demand (on the cluster, watching the test's namespace only).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <sstream>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/emulator_process.hpp"
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/test_api.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {

using std::chrono::seconds;

inline std::string kubectl_path() {
  return test_kubectl(KUBEFN_DEFAULT_KUBECTL);
}

inline std::string test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "-" + info->name();
}

class OperatorE2E : public ::testing::TestWithParam<ApiKind> {
 protected:
  void SetUp() override {
    api_ = std::make_unique<TestApi>(GetParam(), KUBEFN_EMULATOR_BIN, dir_.path().string(),
                                     test_name(), kubectl_path());
    ASSERT_TRUE(api_->error().empty()) << api_->error();
    const std::string crd = api_->install_crd(
        std::string(KUBEFN_SOURCE_DIR) + "/crds/function.yaml", "functions.kubefn.dev");
    ASSERT_TRUE(crd.empty()) << crd;
  }

  const std::string& ns() const { return api_->ns(); }

  std::string function_yaml(const std::string& name, const std::string& spec_lines) const {
    return "apiVersion: kubefn.dev/v1alpha1\nkind: Function\nmetadata:\n  name: " + name +
           "\n  namespace: " + ns() + "\nspec:\n" + spec_lines;
  }

  // A manifest from the repository, moved into the test's namespace.
  std::string manifest_in_namespace(const std::string& path) const {
    std::string text = read_file(path);
    const std::string from = "namespace: default";
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + 1)) {
      text.replace(at, from.size(), "namespace: " + ns());
    }
    return text;
  }

  CommandResult kubectl(std::vector<std::string> args, const std::string& stdin_text = {}) {
    std::vector<std::string> argv = {kubectl_path(), "--kubeconfig", api_->kubeconfig(),
                                     "--cache-dir", dir_.file("kube-cache")};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, {}, seconds(60), stdin_text);
  }

  std::string jsonpath(const std::string& what, const std::string& path) {
    std::vector<std::string> args;
    std::istringstream in(what);
    std::string word;
    while (in >> word)
      args.push_back(word);
    args.push_back("-o");
    args.push_back("jsonpath=" + path);
    auto r = kubectl(args);
    return r.exit_code == 0 ? r.out : std::string();
  }

  bool eventually_equals(const std::string& what, const std::string& path, const std::string& want,
                         seconds within = seconds(20)) {
    return wait_until([&] { return jsonpath(what, path) == want; }, within,
                      std::chrono::milliseconds(100));
  }

  // Starts an operator; returns its metrics port (0 when it did not start).
  std::uint16_t start_operator(std::unique_ptr<ChildProcess>& proc, const std::string& name,
                               std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {KUBEFN_OPERATOR_BIN,
                                     "--kubeconfig",
                                     api_->kubeconfig(),
                                     "--metrics-port",
                                     "0",
                                     "--bind-address",
                                     "127.0.0.1",
                                     "--identity",
                                     name};
    // On the shared cluster an operator sees only its test's namespace.
    if (api_->real()) argv.insert(argv.end(), {"--namespaces", ns()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{},
                                          dir_.file(name + ".out"), dir_.file(name + ".err"));
    static const std::regex re("metrics on 127\\.0\\.0\\.1:([0-9]+)");
    std::uint16_t port = 0;
    wait_until(
        [&] {
          std::smatch m;
          std::string err = read_file(dir_.file(name + ".err"));
          if (std::regex_search(err, m, re)) {
            port = static_cast<std::uint16_t>(std::stoi(m[1]));
            return true;
          }
          return !proc->running();
        },
        seconds(10));
    return port;
  }

  std::string operator_log(const std::string& name) { return read_file(dir_.file(name + ".err")); }

  TempDir dir_;
  std::unique_ptr<TestApi> api_;
};

}  // namespace kubefn::testing
