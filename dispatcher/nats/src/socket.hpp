// POSIX sockets for the connection: a TCP connect that a wake pipe can interrupt, writes that
// never raise SIGPIPE, and the pipe that wakes the reader's poll().
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "kubefn/nats/status.hpp"

namespace kubefn::nats::detail {

// Owns a file descriptor; closes it when destroyed.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// Connects to host:port (every address the name resolves to, in turn) within `timeout`;
// returns early with kClosed when `wake_fd` becomes readable. The socket is blocking, with
// TCP_NODELAY and a send timeout of `write_timeout`.
Result<Fd> tcp_connect(const std::string& host, std::uint16_t port,
                       std::chrono::milliseconds timeout, std::chrono::milliseconds write_timeout,
                       int wake_fd);

// Writes all of `bytes`: kTimeout when the send timeout passed, kConnectionLost on an error.
Status send_all(int fd, std::string_view bytes);

// A self-pipe: wake() makes read_fd() readable until drain().
class WakePipe {
 public:
  WakePipe();
  int read_fd() const { return read_.get(); }
  void wake();
  void drain();

 private:
  Fd read_;
  Fd write_;
};

}  // namespace kubefn::nats::detail
