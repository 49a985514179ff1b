#include "kubefn/oci/credentials.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kubefn::oci {
namespace {

using kube::Result;
using kube::Status;
using kube::StatusCode;

// "https://host/v1/" -> "host"; docker hub aliases -> "docker.io".
std::string normalize_host(std::string key) {
  if (const auto scheme = key.find("://"); scheme != std::string::npos) key.erase(0, scheme + 3);
  if (const auto slash = key.find('/'); slash != std::string::npos) key.resize(slash);
  for (char& c : key)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (key == "index.docker.io" || key == "registry-1.docker.io") key = "docker.io";
  return key;
}

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::string(value) : std::string();
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const int v = value_of(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

CredentialStore CredentialStore::from_json(const nlohmann::json& config) {
  CredentialStore store;
  if (!config.is_object()) return store;
  if (config.contains("credHelpers") && config["credHelpers"].is_object()) {
    for (const auto& [key, helper] : config["credHelpers"].items()) {
      if (helper.is_string()) store.helpers_[normalize_host(key)] = helper.get<std::string>();
    }
  }
  if (config.contains("credsStore") && config["credsStore"].is_string()) {
    store.default_helper_ = config["credsStore"].get<std::string>();
  }
  if (!config.contains("auths") || !config["auths"].is_object()) return store;
  for (const auto& [key, entry] : config["auths"].items()) {
    if (!entry.is_object()) continue;
    Credentials credentials;
    if (entry.contains("auth") && entry["auth"].is_string()) {
      const auto decoded = base64_decode(entry["auth"].get<std::string>());
      if (decoded) {
        const auto colon = decoded->find(':');
        if (colon != std::string::npos) {
          credentials.username = decoded->substr(0, colon);
          credentials.password = decoded->substr(colon + 1);
        }
      }
    }
    if (entry.contains("username") && entry["username"].is_string()) {
      credentials.username = entry["username"].get<std::string>();
    }
    if (entry.contains("password") && entry["password"].is_string()) {
      credentials.password = entry["password"].get<std::string>();
    }
    if (entry.contains("identitytoken") && entry["identitytoken"].is_string()) {
      credentials.identity_token = entry["identitytoken"].get<std::string>();
    }
    if (credentials.username.empty() && credentials.password.empty() &&
        credentials.identity_token.empty()) {
      continue;
    }
    store.add(key, std::move(credentials));
  }
  return store;
}

Result<CredentialStore> CredentialStore::load(const std::string& explicit_path) {
  std::vector<std::string> candidates;
  if (!explicit_path.empty()) {
    if (!std::filesystem::exists(explicit_path)) {
      return Status(StatusCode::kInvalidConfig,
                    "registry credentials file " + explicit_path + " does not exist");
    }
    candidates.push_back(explicit_path);
  }
  if (const std::string path = env_or_empty("REGISTRY_AUTH_FILE"); !path.empty()) {
    candidates.push_back(path);
  }
  if (const std::string dir = env_or_empty("DOCKER_CONFIG"); !dir.empty()) {
    candidates.push_back(dir + "/config.json");
  }
  if (const std::string home = env_or_empty("HOME"); !home.empty()) {
    candidates.push_back(home + "/.docker/config.json");
  }
  for (const std::string& path : candidates) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) continue;
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status(StatusCode::kInvalidConfig,
                    "registry credentials file " + path + " is not a JSON object");
    }
    return from_json(doc);
  }
  return CredentialStore();
}

std::optional<Credentials> CredentialStore::lookup(const std::string& registry) const {
  const auto found = entries_.find(normalize_host(registry));
  if (found == entries_.end()) return std::nullopt;
  return found->second;
}

std::string CredentialStore::unsupported_helper(const std::string& registry) const {
  if (lookup(registry)) return {};
  const auto found = helpers_.find(normalize_host(registry));
  const std::string name = found != helpers_.end() ? found->second : default_helper_;
  return name.empty() ? std::string() : "docker-credential-" + name;
}

void CredentialStore::add(const std::string& registry, Credentials credentials) {
  entries_[normalize_host(registry)] = std::move(credentials);
}

}  // namespace kubefn::oci
