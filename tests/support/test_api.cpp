#include "kubefn/testing/test_api.hpp"

#include <cstdlib>
#include <filesystem>
#include <random>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/emulator_process.hpp"
#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {

std::string api_kind_name(ApiKind kind) {
  return kind == ApiKind::kCluster ? "Cluster" : "Emulator";
}

std::string test_kubectl(const std::string& fallback) {
  const char* env = std::getenv("KUBEFN_KUBECTL");
  return env != nullptr && *env != '\0' ? env : fallback;
}

std::string namespace_for(const std::string& test_name) {
  std::string out;
  for (char c : test_name) {
    if (out.size() >= 40) break;
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) {
      out += c;
    } else if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c - 'A' + 'a');
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty()) out = "test";
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::random_device rd;
  std::uniform_int_distribution<int> pick(0, sizeof(kAlphabet) - 2);
  out += '-';
  for (int i = 0; i < 5; ++i) out += kAlphabet[pick(rd)];
  return out;
}

namespace {

std::string server_of(const std::string& kubeconfig) {
  const std::string text = read_file(kubeconfig);
  const auto at = text.find("server: ");
  if (at == std::string::npos) return {};
  const auto end = text.find('\n', at);
  return text.substr(at + 8, end - at - 8);
}

}  // namespace

TestApi::TestApi(ApiKind kind, const std::string& emulator_binary, const std::string& dir,
                 const std::string& test_name, const std::string& kubectl)
    : kind_(kind), kubectl_(kubectl) {
  if (kind == ApiKind::kEmulator) {
    auto emu = start_emulator_process(emulator_binary, dir);
    if (!emu.error.empty()) {
      error_ = emu.error;
      return;
    }
    emulator_ = std::move(emu.process);
    server_ = emu.url;
    kubeconfig_ = admin_kubeconfig_ = emu.kubeconfig;
    return;
  }
  const char* state = std::getenv("KUBEFN_CLUSTER_DIR");
  if (state == nullptr || *state == '\0') {
    error_ = "KUBEFN_CLUSTER_DIR is not set: run the cluster tests through ctest (label cluster), "
             "which starts one with scripts/cluster up";
    return;
  }
  cluster_dir_ = state;
  admin_kubeconfig_ = cluster_dir_ + "/admin.kubeconfig";
  if (!std::filesystem::exists(admin_kubeconfig_)) {
    error_ = "no cluster in " + cluster_dir_ + " (scripts/cluster up starts one)";
    return;
  }
  server_ = server_of(admin_kubeconfig_);
  ns_ = namespace_for(test_name);
  auto made = run_command({kubectl_, "--kubeconfig", admin_kubeconfig_, "create", "namespace", ns_},
                          {}, std::chrono::seconds(30));
  if (made.exit_code != 0) {
    error_ = "creating namespace " + ns_ + ": " + made.err;
    return;
  }
  // The admin kubeconfig with the test's namespace as the context's.
  std::string text = read_file(admin_kubeconfig_);
  const std::string from = "    namespace: default\n";
  if (const auto at = text.find(from); at != std::string::npos) {
    text.replace(at, from.size(), "    namespace: " + ns_ + "\n");
  }
  kubeconfig_ = dir + "/kubeconfig";
  write_file(kubeconfig_, text);
  std::filesystem::permissions(kubeconfig_, std::filesystem::perms::owner_read |
                                                std::filesystem::perms::owner_write);
}

std::string TestApi::install_crd(const std::string& crd_file, const std::string& crd_name) const {
  CommandResult applied;
  const bool ok = wait_until(
      [&] {
        applied = run_command({kubectl_, "--kubeconfig", kubeconfig_, "apply", "-f", crd_file}, {},
                              std::chrono::seconds(30));
        return applied.exit_code == 0;
      },
      std::chrono::seconds(30), std::chrono::milliseconds(200));
  if (!ok) return applied.err;
  auto established = run_command({kubectl_, "--kubeconfig", kubeconfig_, "wait", "--for",
                                  "condition=established", "--timeout=20s", "crd/" + crd_name},
                                 {}, std::chrono::seconds(30));
  return established.exit_code == 0 ? std::string() : established.err;
}

TestApi::~TestApi() {
  if (kind_ == ApiKind::kCluster && error_.empty() && !ns_.empty()) {
    run_command({kubectl_, "--kubeconfig", admin_kubeconfig_, "delete", "namespace", ns_,
                 "--wait=false"},
                {}, std::chrono::seconds(30));
  }
}

}  // namespace kubefn::testing
