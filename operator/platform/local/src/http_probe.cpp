#include "http_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kubefn::platform::local::detail {

HttpProbe::HttpProbe(std::uint16_t port, std::string path, Clock::time_point deadline)
    : path_(std::move(path)), deadline_(deadline) {
  request_ = "GET " + path_ + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail(std::string("socket: ") + std::strerror(errno));
    return;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    stage_ = Stage::kSending;
  } else if (errno != EINPROGRESS) {
    fail(std::string("connect: ") + std::strerror(errno));
  }
}

HttpProbe::~HttpProbe() {
  if (fd_ >= 0) ::close(fd_);
}

short HttpProbe::events() const {
  return stage_ == Stage::kReading ? POLLIN : POLLOUT;
}

void HttpProbe::fail(std::string why) {
  done_ = true;
  status_ = 0;
  error_ = std::move(why);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

bool HttpProbe::advance(Clock::time_point now) {
  if (done_) return true;
  if (stage_ == Stage::kConnecting) {
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, 0) <= 0) {
      if (now >= deadline_) fail("connect timed out");
      return done_;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      fail(std::string("connect: ") + std::strerror(err));
      return true;
    }
    stage_ = Stage::kSending;
  }
  if (stage_ == Stage::kSending) {
    while (sent_ < request_.size()) {
      ssize_t n = ::send(fd_, request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
        fail(std::string("send: ") + std::strerror(errno));
        return true;
      }
      sent_ += static_cast<std::size_t>(n);
    }
    if (sent_ == request_.size()) stage_ = Stage::kReading;
  }
  if (stage_ == Stage::kReading) {
    char buf[512];
    bool eof = false;
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        received_.append(buf, static_cast<std::size_t>(n));
        if (received_.find("\r\n") != std::string::npos || received_.size() > 4096) break;
        continue;
      }
      if (n == 0) {
        eof = true;
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      fail(std::string("recv: ") + std::strerror(errno));
      return true;
    }
    auto eol = received_.find("\r\n");
    if (eol != std::string::npos) {
      // "HTTP/1.1 200 OK"
      auto sp = received_.find(' ');
      int code = 0;
      if (sp != std::string::npos && sp + 4 <= eol) {
        for (std::size_t i = sp + 1; i < sp + 4; ++i) {
          char c = received_[i];
          if (c < '0' || c > '9') {
            code = 0;
            break;
          }
          code = code * 10 + (c - '0');
        }
      }
      if (code == 0) {
        fail("malformed status line");
      } else {
        done_ = true;
        status_ = code;
        ::close(fd_);
        fd_ = -1;
      }
      return true;
    }
    if (eof || received_.size() > 4096) {
      fail(eof ? "connection closed before an answer" : "malformed status line");
      return true;
    }
  }
  if (!done_ && now >= deadline_) fail("no answer within the probe timeout");
  return done_;
}

}  // namespace kubefn::platform::local::detail
