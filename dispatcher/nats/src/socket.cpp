#include "socket.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace kubefn::nats::detail {
namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Fd> tcp_connect(const std::string& host, std::uint16_t port,
                       std::chrono::milliseconds timeout, std::chrono::milliseconds write_timeout,
                       int wake_fd) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Status(ErrorCode::kConnectionFailed,
                  "cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Status last(ErrorCode::kConnectionFailed, "no address for " + host);
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd.valid()) {
      last = Status(ErrorCode::kConnectionFailed, "socket: " + errno_text(errno));
      continue;
    }
    int rc = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno != EINPROGRESS) {
      last = Status(ErrorCode::kConnectionFailed, "connect to " + where + ": " + errno_text(errno));
      continue;
    }
    if (rc != 0) {
      pollfd fds[2] = {{fd.get(), POLLOUT, 0}, {wake_fd, POLLIN, 0}};
      for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          last =
              Status(ErrorCode::kConnectionFailed, "connect to " + where + ": no answer within " +
                                                       std::to_string(timeout.count()) + " ms");
          break;
        }
        rc = ::poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(left.count()));
        if (rc < 0 && errno == EINTR) continue;
        break;
      }
      if (rc <= 0) {
        if (rc < 0) last = Status(ErrorCode::kConnectionFailed, "poll: " + errno_text(errno));
        continue;
      }
      if (wake_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
        ::freeaddrinfo(found);
        return Status(ErrorCode::kClosed, "connection closed while connecting");
      }
      int err = 0;
      socklen_t len = sizeof(err);
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        last = Status(ErrorCode::kConnectionFailed, "connect to " + where + ": " + errno_text(err));
        continue;
      }
    }
    const int flags = ::fcntl(fd.get(), F_GETFL, 0);
    ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(write_timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((write_timeout.count() % 1000) * 1000);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ::freeaddrinfo(found);
    return fd;
  }
  ::freeaddrinfo(found);
  return last;
}

Status send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return Status(ErrorCode::kTimeout, "write blocked past the write timeout");
      return Status(ErrorCode::kConnectionLost, "write: " + errno_text(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

WakePipe::WakePipe() {
  int fds[2];
  // Without this pipe the connection cannot be stopped: a broken invariant of the process.
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) std::abort();
  read_ = Fd(fds[0]);
  write_ = Fd(fds[1]);
}

void WakePipe::wake() {
  const char byte = 1;
  // A full pipe is already readable: nothing to do when the write fails.
  [[maybe_unused]] const ssize_t n = ::write(write_.get(), &byte, 1);
}

void WakePipe::drain() {
  char buf[64];
  while (::read(read_.get(), buf, sizeof(buf)) > 0) {
  }
}

}  // namespace kubefn::nats::detail
