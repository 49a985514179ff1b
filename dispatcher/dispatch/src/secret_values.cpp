#include "secret_values.hpp"

#include "kubefn/nats/jetstream_api.hpp"

namespace kubefn::dispatch {

kube::Result<std::map<std::string, std::string>> secret_values(kube::KubeClient& client,
                                                               const std::string& ns,
                                                               const std::string& name) {
  auto got = client.get({kube::resources::secrets(), ns, name});
  if (!got.ok()) return got.status();
  std::map<std::string, std::string> out;
  const nlohmann::json& s = got.value();
  if (auto d = s.find("data"); d != s.end() && d->is_object()) {
    for (auto it = d->begin(); it != d->end(); ++it) {
      if (!it->is_string()) continue;
      auto v = nats::base64_decode(it->get<std::string>());
      if (v.ok()) out[it.key()] = std::move(v).value();
    }
  }
  if (auto d = s.find("stringData"); d != s.end() && d->is_object()) {
    for (auto it = d->begin(); it != d->end(); ++it) {
      if (it->is_string()) out[it.key()] = it->get<std::string>();
    }
  }
  return out;
}

}  // namespace kubefn::dispatch
