#include "kubefn/kube/client_config.hpp"

#include <cstdlib>

namespace kubefn::kube {

bool ClientConfig::uses_tls() const {
  return server.rfind("https://", 0) == 0;
}

bool ClientConfig::has_credentials() const {
  return !token.empty() || !token_file.empty() || !client_certificate_pem.empty() ||
         !client_key_pem.empty();
}

Status validate_client_config(const ClientConfig& config) {
  if (config.server.empty()) return Status(StatusCode::kInvalidConfig, "no server address");
  const bool http = config.server.rfind("http://", 0) == 0;
  if (!http && !config.uses_tls()) {
    return Status(StatusCode::kInvalidConfig,
                  "server address must start with https:// or http://: " + config.server);
  }
  if (http && config.has_credentials()) {
    return Status(StatusCode::kInvalidConfig, "refusing to send credentials over plain http to " +
                                                  config.server + "; use an https:// server");
  }
  if (config.client_certificate_pem.empty() != config.client_key_pem.empty()) {
    return Status(StatusCode::kInvalidConfig,
                  "a client certificate needs its key, and a key needs its certificate");
  }
  return {};
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

}  // namespace kubefn::kube
