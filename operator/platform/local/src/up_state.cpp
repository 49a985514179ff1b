#include "up_state.hpp"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "kubefn/oci/credentials.hpp"

namespace kubefn::platform::local::detail {

namespace fs = std::filesystem;
using nlohmann::json;

long running_pid(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return 0;
  const json prior = json::parse(in, nullptr, false);
  const auto it = prior.is_object() ? prior.find("pid") : prior.end();
  const long pid = it != prior.end() && it->is_number_integer() ? it->get<long>() : 0L;
  return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0 ? pid : 0;
}

void write_state(const fs::path& path, const UpState& state) {
  const json j = {
      {"pid", state.pid},         {"api", state.api},         {"kubeconfig", state.kubeconfig},
      {"gateway", state.gateway}, {"metrics", state.metrics}, {"logs", state.logs}};
  const fs::path tmp = path.string() + ".tmp";
  std::ofstream(tmp) << j.dump() << "\n";
  std::error_code ec;
  fs::rename(tmp, path, ec);
}

std::string kubeconfig_text(const std::string& server, const std::string& ca_pem,
                            const std::string& token) {
  return "apiVersion: v1\nkind: Config\nclusters:\n- name: kubefn-up\n  cluster:\n    server: " +
         json(server).dump() + "\n    certificate-authority-data: " + oci::base64_encode(ca_pem) +
         "\nusers:\n- name: kubefn-up\n  user:\n    token: " + json(token).dump() +
         "\ncontexts:\n- name: kubefn-up\n  context:\n    cluster: kubefn-up\n"
         "    user: kubefn-up\n    namespace: default\ncurrent-context: kubefn-up\n";
}

}  // namespace kubefn::platform::local::detail
