#include "kubefn/testing/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace kubefn::testing {

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
  if (fd_ >= 0) ::close(fd_);
}

bool HttpConnection::send(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
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
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(left.count()));
  if (r <= 0) return false;
  char tmp[65536];
  ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buf_.append(tmp, static_cast<std::size_t>(n));
  return true;
}

std::optional<HttpReply> HttpConnection::read_reply(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::size_t end = buf_.find("\r\n\r\n");
    if (end != std::string::npos) {
      HttpReply reply;
      std::string head = buf_.substr(0, end);
      std::size_t eol = head.find("\r\n");
      std::string status_line = head.substr(0, eol);
      if (status_line.size() < 12) return std::nullopt;
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
        }
        pos = e + 2;
      }
      if (reply.status == 100) {  // interim: drop it and read the final one
        buf_.erase(0, end + 4);
        continue;
      }
      std::size_t body_start = end + 4;
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
      return reply;
    }
    if (!fill(deadline)) return std::nullopt;
  }
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

}  // namespace kubefn::testing
