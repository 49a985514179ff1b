#pragma once

// A non-blocking HTTP GET to 127.0.0.1 that reports only the status code, driven by the
// supervisor's poll loop (private to the module).

#include <chrono>
#include <cstdint>
#include <string>

namespace kubefn::platform::local::detail {

class HttpProbe {
 public:
  using Clock = std::chrono::steady_clock;

  HttpProbe(std::uint16_t port, std::string path, Clock::time_point deadline);
  ~HttpProbe();
  HttpProbe(const HttpProbe&) = delete;
  HttpProbe& operator=(const HttpProbe&) = delete;

  // Makes what progress the socket allows; true once finished (answered, failed or expired).
  bool advance(Clock::time_point now);
  bool done() const { return done_; }
  // The answer's status code; 0 when it failed (then error() says why).
  int status() const { return status_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }
  Clock::time_point deadline() const { return deadline_; }

  // For poll(): the descriptor and the events it waits for (-1 once done).
  int fd() const { return done_ ? -1 : fd_; }
  short events() const;

 private:
  void fail(std::string why);
  enum class Stage { kConnecting, kSending, kReading };
  std::string path_;
  Clock::time_point deadline_;
  int fd_ = -1;
  Stage stage_ = Stage::kConnecting;
  std::string request_;
  std::size_t sent_ = 0;
  std::string received_;
  bool done_ = false;
  int status_ = 0;
  std::string error_;
};

}  // namespace kubefn::platform::local::detail
