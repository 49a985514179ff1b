#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "kubefn/kube/status.hpp"

namespace kubefn::kube {

// Everything needed to reach and authenticate to one API server. File references are resolved
// when the config is loaded, except the token file, which is re-read while the client runs.
struct ClientConfig {
  std::string server;  // "https://host:port[/prefix]"
  std::string ca_pem;  // empty: system trust store
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // name to verify the server certificate against
  std::string token;
  std::string token_file;  // re-read periodically and after a 401
  std::chrono::seconds token_reload_interval{60};
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::string default_namespace = "default";

  bool uses_tls() const;
  bool has_credentials() const;
};

// Credentials are only ever sent over TLS; a config that would send them in clear is refused.
Status validate_client_config(const ClientConfig& config);

// Reads an environment variable; a seam so tests need not touch the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

}  // namespace kubefn::kube
