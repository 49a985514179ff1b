#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kubefn/kube/result.hpp"

namespace kubefn::oci {

struct Credentials {
  std::string username, password, identity_token;
};

// Registry credentials from a docker config.json:
//   {"auths": {"host": {"auth": base64(user:pass)} | {"username", "password"} |
//              {"identitytoken"}}}
// credHelpers and credsStore are not supported: registries configured only through them have
// no credentials here, and unsupported_helper() names the helper so errors can say so.
class CredentialStore {
 public:
  // Search order: explicit_path, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json,
  // $HOME/.docker/config.json. No file at all is an empty store; an explicit path that does not
  // exist, or a file that does not parse, is an error.
  static kube::Result<CredentialStore> load(const std::string& explicit_path = "");
  static CredentialStore from_json(const nlohmann::json& config);

  // Matches "host", "https://host", "http://host/v1/" style keys; docker.io also matches
  // "index.docker.io" and "https://index.docker.io/v1/".
  std::optional<Credentials> lookup(const std::string& registry) const;
  void add(const std::string& registry, Credentials credentials);
  bool empty() const { return entries_.empty(); }
  // The credential helper ("docker-credential-<name>") the config names for this registry
  // (credHelpers, else credsStore) when it has no usable credentials here; empty otherwise.
  std::string unsupported_helper(const std::string& registry) const;

 private:
  std::map<std::string, Credentials> entries_;  // by normalized host
  std::map<std::string, std::string> helpers_;  // by normalized host
  std::string default_helper_;                  // credsStore
};

// Base64 (standard alphabet, padded) helpers shared with the registry client.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kubefn::oci
