#include "kubefn/testing/registry_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kubefn/testing/command.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/wait.hpp"

namespace kubefn::testing {
namespace {

std::string base64(const unsigned char* data, std::size_t size, bool url) {
  static constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* alphabet = url ? kUrl : kStd;
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    for (int shift : {18, 12, 6, 0})
      out += alphabet[(v >> shift) & 63];
  }
  if (size - i == 1) {
    const unsigned v = data[i] << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (!url) out += "==";
  } else if (size - i == 2) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (!url) out += "=";
  }
  return out;
}

std::string base64url(const std::string& text) {
  return base64(reinterpret_cast<const unsigned char*>(text.data()), text.size(), true);
}

std::string base64_decode(const std::string& text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    if (v < 0) continue;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return out;
}

std::string url_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

void send_all(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

void reply(int fd, int status, const std::string& reason, const std::string& body,
           const std::string& extra_headers = {}) {
  send_all(fd, "HTTP/1.1 " + std::to_string(status) + " " + reason +
                   "\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers +
                   "\r\n" + body);
}

}  // namespace

// ---- TokenServer -------------------------------------------------------------------------

struct TokenServer::Keys {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~Keys() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

TokenServer::TokenServer() : TokenServer(Options{}) {}

TokenServer::TokenServer(Options options)
    : options_(std::move(options)), keys_(std::make_unique<Keys>()) {
  keys_->key = EVP_RSA_gen(2048);
  keys_->cert = X509_new();
  X509_set_version(keys_->cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(keys_->cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(keys_->cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(keys_->cert), 24 * 3600);
  X509_set_pubkey(keys_->cert, keys_->key);
  X509_NAME* name = X509_get_subject_name(keys_->cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("kubefn test token issuer"), -1,
                             -1, 0);
  X509_set_issuer_name(keys_->cert, name);
  X509_sign(keys_->cert, keys_->key, EVP_sha256());

  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, keys_->cert);
  char* pem = nullptr;
  const long pem_size = BIO_get_mem_data(bio, &pem);
  cert_pem_.assign(pem, static_cast<std::size_t>(pem_size));
  BIO_free(bio);
  unsigned char* der = nullptr;
  const int der_size = i2d_X509(keys_->cert, &der);
  cert_der_b64_ = base64(der, static_cast<std::size_t>(der_size), false);
  OPENSSL_free(der);

  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int yes = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    return;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

TokenServer::~TokenServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string TokenServer::realm() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/token";
}

std::vector<std::string> TokenServer::scopes_seen() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return scopes_seen_;
}

std::string TokenServer::issue(const std::vector<std::string>& scopes,
                               const std::string& subject) const {
  nlohmann::json access = nlohmann::json::array();
  for (const std::string& scope : scopes) {
    const auto first = scope.find(':');
    const auto last = scope.rfind(':');
    if (first == std::string::npos || first == last) continue;
    nlohmann::json actions = nlohmann::json::array();
    std::stringstream list(scope.substr(last + 1));
    for (std::string action; std::getline(list, action, ',');)
      actions.push_back(action);
    access.push_back({{"type", scope.substr(0, first)},
                      {"name", scope.substr(first + 1, last - first - 1)},
                      {"actions", actions}});
  }
  const long now = static_cast<long>(std::time(nullptr));
  static std::atomic<long> counter{0};
  const nlohmann::json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {cert_der_b64_}}};
  const nlohmann::json claims = {{"iss", options_.issuer},
                                 {"sub", subject},
                                 {"aud", options_.service},
                                 {"exp", now + options_.expires_in_seconds},
                                 {"nbf", now - 10},
                                 {"iat", now},
                                 {"jti", "kubefn-test-" + std::to_string(++counter)},
                                 {"access", access}};
  const std::string signing_input = base64url(header.dump()) + "." + base64url(claims.dump());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, keys_->key);
  std::size_t sig_size = 0;
  EVP_DigestSign(ctx, nullptr, &sig_size,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  std::string signature(sig_size, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &sig_size,
                 reinterpret_cast<const unsigned char*>(signing_input.data()),
                 signing_input.size());
  signature.resize(sig_size);
  EVP_MD_CTX_free(ctx);
  return signing_input + "." + base64url(signature);
}

void TokenServer::serve() {
  while (!stop_) {
    pollfd pfd{listen_fd_, POLLIN, 0};
    if (::poll(&pfd, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void TokenServer::handle(int fd) {
  std::string request;
  char buffer[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (request.find("\r\n\r\n") == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<std::size_t>(n));
  }
  const std::string head = request.substr(0, request.find("\r\n\r\n"));
  std::istringstream lines(head);
  std::string method, target, version;
  lines >> method >> target >> version;
  std::string authorization;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "authorization") {
      authorization = line.substr(colon + 1);
      while (!authorization.empty() && authorization.front() == ' ')
        authorization.erase(0, 1);
    }
  }
  const auto question = target.find('?');
  const std::string path = target.substr(0, question);
  if (method != "GET" || path != "/token") {
    reply(fd, 404, "Not Found", R"({"details":"not found"})");
    return;
  }
  std::vector<std::string> scopes;
  std::string service;
  if (question != std::string::npos) {
    std::stringstream query(target.substr(question + 1));
    for (std::string pair; std::getline(query, pair, '&');) {
      const auto eq = pair.find('=');
      const std::string key = pair.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : url_decode(pair.substr(eq + 1));
      if (key == "scope") {
        // One scope parameter may hold several scopes separated by spaces.
        std::stringstream parts(value);
        for (std::string scope; parts >> scope;)
          scopes.push_back(scope);
      } else if (key == "service") {
        service = value;
      }
    }
  }
  std::string subject = "anonymous";
  if (!options_.users.empty()) {
    bool ok = false;
    if (authorization.rfind("Basic ", 0) == 0) {
      const std::string decoded = base64_decode(authorization.substr(6));
      const auto colon = decoded.find(':');
      if (colon != std::string::npos) {
        const auto user = options_.users.find(decoded.substr(0, colon));
        ok = user != options_.users.end() && user->second == decoded.substr(colon + 1);
        if (ok) subject = user->first;
      }
    }
    if (!ok) {
      ++refused_;
      reply(fd, 401, "Unauthorized", R"({"details":"invalid username or password"})",
            "WWW-Authenticate: Basic realm=\"kubefn-test-token\"\r\n");
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    scopes_seen_.insert(scopes_seen_.end(), scopes.begin(), scopes.end());
  }
  const std::string token = issue(scopes, subject);
  ++issued_;
  const nlohmann::json body = {
      {"token", token}, {"access_token", token}, {"expires_in", options_.expires_in_seconds}};
  reply(fd, 200, "OK", body.dump());
}

// ---- RegistryServer ----------------------------------------------------------------------

RegistryServer::RegistryServer() : RegistryServer(Options{}) {}

RegistryServer::RegistryServer(Options options) {
  if (!available()) {
    error_ = "docker-registry is not installed";
    return;
  }
  std::ostringstream config;
  port_ = free_port();
  config << "version: 0.1\n"
         << "log:\n  level: error\n  accesslog:\n    disabled: true\n"
         << "storage:\n  filesystem:\n    rootdirectory: " << (dir_.path() / "data").string()
         << "\n  delete:\n    enabled: true\n"
         << "http:\n  addr: 127.0.0.1:" << port_ << "\n  secret: kubefn-test-secret\n";
  if (options.htpasswd_user) {
    const CommandResult hashed = run_command(
        {"htpasswd", "-Bbn", options.htpasswd_user->first, options.htpasswd_user->second}, {},
        std::chrono::seconds(30));
    if (hashed.exit_code != 0) {
      error_ = "htpasswd failed: " + hashed.err;
      return;
    }
    std::string line = hashed.out;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    dir_.write("htpasswd", line + "\n");
    config << "auth:\n  htpasswd:\n    realm: kubefn-test\n    path: " << dir_.file("htpasswd")
           << "\n";
  } else if (options.token_server) {
    dir_.write("token-root.pem", options.token_server->root_cert_pem());
    config << "auth:\n  token:\n    realm: " << options.token_server->realm()
           << "\n    service: " << options.token_server->service()
           << "\n    issuer: " << options.token_server->issuer()
           << "\n    rootcertbundle: " << dir_.file("token-root.pem") << "\n";
  }
  dir_.write("config.yml", config.str());
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"docker-registry", "serve", dir_.file("config.yml")},
      std::map<std::string, std::string>{}, dir_.file("stdout.log"), dir_.file("stderr.log"));
  started_ = wait_until(
      [&] {
        if (!process_->running()) return true;
        return http_request(port_, "GET", "/v2/", {}, {}, std::chrono::seconds(2)).has_value();
      },
      options.start_timeout, std::chrono::milliseconds(50));
  if (started_ && !process_->running()) started_ = false;
  if (!started_) {
    error_ = "registry did not answer GET /v2/ on port " + std::to_string(port_) + ": " + log();
  }
}

RegistryServer::~RegistryServer() {
  if (process_ && process_->running()) {
    process_->signal(SIGTERM);
    if (!process_->wait_exit(std::chrono::seconds(10))) process_->signal(SIGKILL);
    process_->wait_exit(std::chrono::seconds(10));
  }
}

std::string RegistryServer::host() const {
  return "127.0.0.1:" + std::to_string(port_);
}

std::string RegistryServer::log() const {
  std::error_code error;
  if (!std::filesystem::exists(dir_.file("stderr.log"), error)) return {};
  return read_file(dir_.file("stderr.log")) + read_file(dir_.file("stdout.log"));
}

bool RegistryServer::available() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
    if (::access((std::string(dir) + "/docker-registry").c_str(), X_OK) == 0) return true;
  }
  return run_command({"sh", "-c", "command -v docker-registry"}, {}, std::chrono::seconds(10))
             .exit_code == 0;
}

}  // namespace kubefn::testing
