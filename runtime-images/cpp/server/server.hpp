// The runtime host's HTTP/1.1 server.
//
// Threading: one Asio io_context, served by a small pool of threads that run the handler
// inline, on the thread that parsed the request: no hand-off, so a fast handler costs one
// read and one write. A monitor thread watches the pool: when every thread has been inside
// a handler for more than a couple of milliseconds it adds threads (doubling, up to
// KUBEFN_MAX_THREADS plus one), so slow handlers never starve other requests; idle extra
// threads retire. At most KUBEFN_MAX_THREADS handlers run at once, so the last thread always
// serves I/O and /healthz, /readyz and /metrics however many handlers block; a call that
// finds every handler slot taken waits for one, up to its deadline. The same monitor
// enforces every timeout without a timer per request: idle keep-alive, slow request reads,
// slow response writes, and the handler deadline (it answers 504 itself while the handler
// thread is still busy, or while the call still waits for a slot).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "config.hpp"
#include "kubefn/function.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace kubefn::runtime {

class ServerCore;

class Server {
 public:
  Server(RuntimeConfig config, HandlerFn handler, RuntimeMetrics& metrics,
         telemetry::LineWriter& access_log, telemetry::LineWriter& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; an error message when that fails.
  std::optional<std::string> listen();
  std::uint16_t port() const;

  // Serves until SIGTERM/SIGINT (or drain()) and the drain that follows; returns the exit
  // code: 0 when every in-flight request was answered, 1 when the drain timed out.
  int run();

  // Stop accepting, finish in-flight requests, then return from run(). Thread-safe.
  void drain();

 private:
  std::shared_ptr<ServerCore> core_;
};

}  // namespace kubefn::runtime
