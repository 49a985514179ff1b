#include "kubefn/testing/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "kubefn/http/chunked.hpp"

namespace kubefn::testing {
namespace {

// Parses a response head (status line and fields, no blank line) into `reply`.
bool parse_head(const std::string& head, HttpReply& reply) {
  std::size_t eol = head.find("\r\n");
  std::string status_line = head.substr(0, eol);
  if (status_line.size() < 12) return false;
  reply.status = std::stoi(status_line.substr(9, 3));
  std::size_t pos = eol == std::string::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    std::size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    std::size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ')
        value.erase(0, 1);
      reply.headers[name] = value;
      reply.fields.emplace_back(std::move(name), std::move(value));
    }
    pos = e + 2;
  }
  return true;
}

}  // namespace

std::vector<std::string> HttpReply::header_values(const std::string& lower_name) const {
  std::vector<std::string> out;
  for (const auto& [name, value] : fields) {
    if (name == lower_name) out.push_back(value);
  }
  return out;
}

struct HttpConnection::Tls {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~Tls() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
  }
  // Trusts the certificates in `ca_pem` and shakes hands over `fd`.
  bool start(int fd, const std::string& ca_pem) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) return false;
    BIO* bio = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
    int trusted = 0;
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      trusted += X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert);
      X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error();  // the end of the PEM text
    if (trusted == 0) return false;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    ssl = SSL_new(ctx);
    return ssl != nullptr && SSL_set_fd(ssl, fd) == 1 && SSL_connect(ssl) == 1;
  }
};

HttpConnection::HttpConnection(std::uint16_t port, const std::string& ca_pem)
    : HttpConnection(port) {
  if (fd_ < 0) return;
  tls_ = std::make_unique<Tls>();
  if (!tls_->start(fd_, ca_pem)) {
    ::close(fd_);
    fd_ = -1;
  }
}

HttpConnection::HttpConnection(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

HttpConnection::~HttpConnection() {
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void HttpConnection::shutdown() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

bool HttpConnection::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    if (tls_) {
      const int n = SSL_write(tls_->ssl, bytes.data() + off, static_cast<int>(bytes.size() - off));
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
      continue;
    }
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool HttpConnection::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  if (!tls_ || SSL_pending(tls_->ssl) == 0) {  // TLS may hold a record's bytes already
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) return false;
  }
  char tmp[65536];
  ssize_t n = tls_ ? SSL_read(tls_->ssl, tmp, static_cast<int>(sizeof tmp))
                   : ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::pair<HttpReply, std::size_t>> HttpConnection::buffered_head(
    std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    std::size_t end = buf_.find("\r\n\r\n");
    if (end != std::string::npos) {
      HttpReply reply;
      if (!parse_head(buf_.substr(0, end), reply)) return std::nullopt;
      if (reply.status == 100) {  // interim: drop it and read the final one
        buf_.erase(0, end + 4);
        continue;
      }
      return std::pair{std::move(reply), end + 4};
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::optional<HttpReply> HttpConnection::read_reply(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto head = buffered_head(deadline);
  if (!head) return std::nullopt;
  auto& [reply, body_start] = *head;
  if (reply.headers.count("content-length")) {
    std::size_t len = std::stoul(reply.headers["content-length"]);
    while (buf_.size() < body_start + len) {
      if (!fill(deadline)) return std::nullopt;
    }
    reply.body = buf_.substr(body_start, len);
    buf_.erase(0, body_start + len);
  } else {
    while (fill(deadline)) {
    }
    reply.body = buf_.substr(body_start);
    buf_.clear();
  }
  return std::move(reply);
}

std::optional<HttpReply> HttpConnection::read_head(std::chrono::milliseconds timeout) {
  auto head = buffered_head(std::chrono::steady_clock::now() + timeout);
  if (!head) return std::nullopt;
  buf_.erase(0, head->second);
  return std::move(head->first);
}

std::optional<std::string> HttpConnection::read_some(std::chrono::milliseconds timeout) {
  if (buf_.empty() && !fill(std::chrono::steady_clock::now() + timeout) && eof_) {
    return std::nullopt;
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

bool HttpConnection::received(const std::string& text, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (buf_.find(text) == std::string::npos) {
    if (!fill(deadline)) return false;
  }
  return true;
}

std::optional<std::string> HttpConnection::read_until_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    if (!fill(deadline) && !eof_) return std::nullopt;
  }
  std::string all = std::move(buf_);
  buf_.clear();
  return all;
}

bool HttpConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    if (!fill(deadline) && !eof_) return false;
  }
  return true;
}

std::string build_request(const std::string& method, const std::string& target,
                          const std::string& body,
                          const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& header : headers) {
    std::string lower = header.first;
    for (auto& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    has_host = has_host || lower == "host";
  }
  // One Host, the caller's when given (RFC 9112 section 3.2: two are a 400).
  if (!has_host) req += "Host: 127.0.0.1\r\n";
  for (const auto& [k, v] : headers)
    req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  return req;
}

std::optional<HttpReply> http_request(std::uint16_t port, const std::string& method,
                                      const std::string& target, const std::string& body,
                                      const std::map<std::string, std::string>& headers,
                                      std::chrono::milliseconds timeout) {
  HttpConnection c(port);
  if (!c.connected() || !c.send(build_request(method, target, body, headers))) {
    return std::nullopt;
  }
  return c.read_reply(timeout);
}

int http_status(std::uint16_t port, const std::string& target,
                const std::map<std::string, std::string>& headers) {
  auto reply = http_request(port, "GET", target, "", headers);
  return reply ? reply->status : 0;
}

HttpClient::HttpClient(std::uint16_t port, std::string ca_pem)
    : port_(port), ca_pem_(std::move(ca_pem)) {}

HttpReply HttpClient::request(const std::string& method, const std::string& target,
                              const std::string& body, const RequestOptions& options) const {
  std::map<std::string, std::string> headers = {
      {"Host", options.host}, {"Accept", options.accept}, {"Connection", "close"}};
  if (!body.empty()) headers["Content-Type"] = options.content_type;
  if (!options.token.empty()) headers["Authorization"] = "Bearer " + options.token;
  std::unique_ptr<HttpConnection> c = ca_pem_.empty()
                                          ? std::make_unique<HttpConnection>(port_)
                                          : std::make_unique<HttpConnection>(port_, ca_pem_);
  HttpReply failed;
  if (!c->connected()) {
    failed.body = "no connection to port " + std::to_string(port_);
    return failed;
  }
  if (!c->send(build_request(method, target, body, headers))) {
    failed.body = "the request could not be sent";
    return failed;
  }
  auto reply = c->read_reply();
  if (!reply) {
    failed.body = "no reply to " + method + " " + target;
    return failed;
  }
  return *reply;
}

WatchReader::WatchReader(std::uint16_t port, const std::string& target, const std::string& accept)
    : connection_(port), thread_([this, target, accept] { run(target, accept); }) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::seconds(10), [&] { return opened_ || ended_; });
}

WatchReader::~WatchReader() {
  connection_.shutdown();
  thread_.join();
}

void WatchReader::run(const std::string& target, const std::string& accept) {
  std::optional<HttpReply> head;
  if (connection_.connected() &&
      connection_.send(build_request("GET", target, "", {{"Accept", accept}}))) {
    head = connection_.read_head();
  }
  {
    std::lock_guard lock(mu_);
    status_ = head ? head->status : 0;
    opened_ = true;
  }
  cv_.notify_all();
  if (head) {
    const bool chunked = head->header("transfer-encoding").find("chunked") != std::string::npos;
    const std::string length = head->header("content-length");
    std::string received;
    http::ChunkedDecoder chunks;
    chunks.reset(0);
    std::size_t consumed = 0;
    bool done = !chunked && length == "0";
    while (!done) {
      auto more = connection_.read_some(std::chrono::hours(1));
      if (!more) break;  // closed, or shut down by the destructor
      received += *more;
      std::string_view body = received;
      if (chunked) {
        const auto step = chunks.decode(received, std::size_t{1} << 30, 64 * 1024);
        if (step != http::ChunkedDecoder::Step::kNeedMore &&
            step != http::ChunkedDecoder::Step::kDone) {
          break;
        }
        done = step == http::ChunkedDecoder::Step::kDone;
        body = chunks.body();
      } else if (!length.empty()) {
        done = received.size() >= std::stoul(length);
      }
      std::size_t nl;
      while ((nl = body.find('\n', consumed)) != std::string_view::npos) {
        auto event = nlohmann::json::parse(body.substr(consumed, nl - consumed), nullptr, false);
        consumed = nl + 1;
        std::lock_guard lock(mu_);
        events_.push_back(std::move(event));
        cv_.notify_all();
      }
    }
  }
  std::lock_guard lock(mu_);
  ended_ = true;
  cv_.notify_all();
}

std::optional<nlohmann::json> WatchReader::next(std::chrono::milliseconds within) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, within, [&] { return !events_.empty() || ended_; });
  if (events_.empty()) return std::nullopt;
  auto e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool WatchReader::ended(std::chrono::milliseconds within) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, within, [&] { return ended_; });
}

}  // namespace kubefn::testing
