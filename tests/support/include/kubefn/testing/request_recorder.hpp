// A small HTTP/1.1 server for tests that receive calls (asynchronous calls' callbacks): on
// 127.0.0.1, port 0, it answers every request `status` (200 unless set), closing the
// connection, and keeps each request's method, target, headers and body.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kubefn::testing {

class RequestRecorder {
 public:
  struct Request {
    std::string method, target;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
    std::string header(const std::string& name) const {
      auto it = headers.find(name);
      return it == headers.end() ? std::string() : it->second;
    }
  };

  RequestRecorder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RequestRecorder() {
    stopping_ = true;
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  RequestRecorder(const RequestRecorder&) = delete;
  RequestRecorder& operator=(const RequestRecorder&) = delete;

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set_status(int status) { status_ = status; }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) {
        if (stopping_) return;
        continue;
      }
      timeval tv{5, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string in;
      char buf[8192];
      std::size_t head_end = std::string::npos;
      std::size_t need = 0;
      for (;;) {
        if (head_end != std::string::npos && in.size() >= head_end + 4 + need) break;
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<std::size_t>(n));
        if (head_end == std::string::npos && (head_end = in.find("\r\n\r\n")) != std::string::npos) {
          need = std::strtoul(header_of(in.substr(0, head_end), "content-length").c_str(), nullptr,
                              10);
        }
      }
      if (head_end != std::string::npos) {
        Request r;
        const std::string head = in.substr(0, head_end);
        const std::size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
        r.method = head.substr(0, sp1);
        r.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
        std::size_t at = head.find("\r\n");
        while (at != std::string::npos && at < head.size()) {
          const std::size_t next = head.find("\r\n", at + 2);
          const std::string line = head.substr(at + 2, next == std::string::npos
                                                           ? std::string::npos
                                                           : next - at - 2);
          const std::size_t colon = line.find(':');
          if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (char& ch : name)
              ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            std::size_t v = colon + 1;
            while (v < line.size() && line[v] == ' ')
              ++v;
            r.headers[name] = line.substr(v);
          }
          at = next;
        }
        r.body = in.substr(head_end + 4, need);
        {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(std::move(r));
        }
        const std::string answer = "HTTP/1.1 " + std::to_string(status_.load()) +
                                   " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }
  static std::string header_of(const std::string& head, const std::string& lower_name) {
    std::string lower = head;
    for (char& ch : lower)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const std::size_t at = lower.find("\r\n" + lower_name + ":");
    if (at == std::string::npos) return {};
    std::size_t v = at + 3 + lower_name.size();
    while (v < head.size() && head[v] == ' ')
      ++v;
    return head.substr(v, head.find("\r\n", v) - v);
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> status_{200};
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

}  // namespace kubefn::testing
