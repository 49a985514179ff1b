#include "kubefn/testing/emulator_process.hpp"

#include <chrono>
#include <map>
#include <vector>

#include "kubefn/testing/temp_dir.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {

std::string kubeconfig_for(const std::string& server) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: emu\n  cluster:\n    server: " + server +
         "\nusers:\n- name: dev\n  user: {}\ncontexts:\n- name: emu\n  context:\n"
         "    cluster: emu\n    user: dev\n    namespace: default\n"
         "current-context: emu\n";
}

EmulatorProcess start_emulator_process(const std::string& binary, const std::string& dir) {
  EmulatorProcess e;
  const std::string out = dir + "/emu.out", err = dir + "/emu.err";
  e.process = std::make_unique<ChildProcess>(std::vector<std::string>{binary, "--port", "0"},
                                             std::map<std::string, std::string>{}, out, err);
  const bool up = wait_until(
      [&] {
        const std::string text = read_file(out);
        const auto nl = text.find('\n');
        if (nl == std::string::npos) return false;
        e.url = text.substr(0, nl);
        return true;
      },
      std::chrono::seconds(10));
  if (!up) {
    e.error = "the emulator printed no URL: " + read_file(err);
    return e;
  }
  e.kubeconfig = dir + "/kubeconfig";
  write_file(e.kubeconfig, kubeconfig_for(e.url));
  return e;
}

}  // namespace kubefn::testing
