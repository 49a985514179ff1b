// A small HTTP/1.1 server for tests of URL sources: fixed routes on 127.0.0.1, port 0, one
// connection at a time, every answer closing its connection; it counts requests per path.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace kubefn::testing {

class SourceServer {
 public:
  struct Route {
    int status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
    bool chunked = false;  // Transfer-Encoding: chunked, so no Content-Length
    bool stall = false;    // never answers; holds the connection until the client leaves
  };

  SourceServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~SourceServer() {
    stopping_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  SourceServer(const SourceServer&) = delete;
  SourceServer& operator=(const SourceServer&) = delete;

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set(const std::string& path, Route route) {
    std::lock_guard<std::mutex> lock(mu_);
    routes_[path] = std::move(route);
  }
  int requests(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(path);
    return it == counts_.end() ? 0 : it->second;
  }

 private:
  static const char* reason(int status) {
    switch (status) {
      case 200:
        return "OK";
      case 301:
        return "Moved Permanently";
      case 302:
        return "Found";
      case 404:
        return "Not Found";
      case 500:
        return "Internal Server Error";
      default:
        return "Status";
    }
  }
  static bool send_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // the client went away (a bounded reader stops early)
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  void serve() {
    for (;;) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) {
        if (errno == EINTR && !stopping_) continue;
        return;
      }
      handle(c);
      ::close(c);
    }
  }

  void handle(int c) {
    timeval tv{5, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      const ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n <= 0) return;
      request.append(buf, static_cast<std::size_t>(n));
    }
    const auto sp1 = request.find(' ');
    const auto sp2 = request.find(' ', sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos) return;
    const std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
    Route route;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counts_[path];
      auto it = routes_.find(path);
      if (it == routes_.end()) {
        route.status = 404;
        route.body = "no such file\n";
      } else {
        route = it->second;
      }
    }
    if (route.stall) {
      while (!stopping_ && ::recv(c, buf, sizeof(buf), 0) > 0) {
      }
      return;
    }
    std::string head = "HTTP/1.1 " + std::to_string(route.status) + " " + reason(route.status) +
                       "\r\nConnection: close\r\nContent-Type: text/plain\r\n";
    for (const auto& [k, v] : route.headers)
      head += k + ": " + v + "\r\n";
    if (!route.chunked) {
      head += "Content-Length: " + std::to_string(route.body.size()) + "\r\n\r\n";
      send_all(c, head + route.body);
      return;
    }
    head += "Transfer-Encoding: chunked\r\n\r\n";
    if (!send_all(c, head)) return;
    constexpr std::size_t kChunk = 16 * 1024;
    for (std::size_t at = 0; at < route.body.size(); at += kChunk) {
      const std::string piece = route.body.substr(at, kChunk);
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", piece.size());
      if (!send_all(c, size + piece + "\r\n")) return;
    }
    send_all(c, "0\r\n\r\n");
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::map<std::string, int> counts_;
};

}  // namespace kubefn::testing
