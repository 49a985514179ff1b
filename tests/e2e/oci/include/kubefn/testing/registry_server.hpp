#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kubefn/testing/free_port.hpp"  // free_port(), which its users call too
#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {

// An in-process token server for the registry token flow (docker distribution's
// `auth: token`): GET /token?service=...&scope=... (optionally with Basic credentials) answers
// {"token", "access_token", "expires_in"} with an RS256 JWT signed by a self-signed certificate
// that is carried in the JWT header (x5c) and trusted by the registry (rootcertbundle).
// Every requested action is granted to an authenticated caller. Listens on 127.0.0.1, port 0.
class TokenServer {
 public:
  struct Options {
    std::map<std::string, std::string> users;  // empty: anyone gets tokens
    std::string service = "kubefn-test-registry";
    std::string issuer = "kubefn-test-issuer";
    int expires_in_seconds = 300;
  };
  TokenServer();
  explicit TokenServer(Options options);
  ~TokenServer();
  TokenServer(const TokenServer&) = delete;
  TokenServer& operator=(const TokenServer&) = delete;

  bool started() const { return listen_fd_ >= 0; }
  std::uint16_t port() const { return port_; }
  std::string realm() const;  // http://127.0.0.1:<port>/token
  const std::string& service() const { return options_.service; }
  const std::string& issuer() const { return options_.issuer; }
  const std::string& root_cert_pem() const { return cert_pem_; }

  // A signed token granting the scopes ("repository:name:pull,push").
  std::string issue(const std::vector<std::string>& scopes, const std::string& subject) const;

  int tokens_issued() const { return issued_.load(); }
  int requests_refused() const { return refused_.load(); }
  std::vector<std::string> scopes_seen() const;

 private:
  void serve();
  void handle(int fd);

  Options options_;
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string cert_pem_;
  std::string cert_der_b64_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> issued_{0}, refused_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> scopes_seen_;
  std::thread thread_;
};

// A real registry (docker distribution's `docker-registry serve`) on 127.0.0.1 and a free
// port, storing in a temporary directory, optionally behind htpasswd (bcrypt) or token auth.
// Started by the constructor (check started()); killed and cleaned up by the destructor.
class RegistryServer {
 public:
  struct Options {
    std::optional<std::pair<std::string, std::string>> htpasswd_user;  // user, password
    const TokenServer* token_server = nullptr;
    std::chrono::milliseconds start_timeout{30000};
  };
  RegistryServer();
  explicit RegistryServer(Options options);
  ~RegistryServer();
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  bool started() const { return started_; }
  // Why it did not start, with the registry's stderr.
  const std::string& error() const { return error_; }
  std::uint16_t port() const { return port_; }
  std::string host() const;  // "127.0.0.1:<port>"
  std::string log() const;   // the registry's stderr so far
  const std::filesystem::path& dir() const { return dir_.path(); }

  static bool available();  // the registry binary is installed

 private:
  TempDir dir_;
  std::uint16_t port_ = 0;
  bool started_ = false;
  std::string error_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace kubefn::testing
