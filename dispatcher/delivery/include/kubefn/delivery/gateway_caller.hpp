// Calls functions through the gateway, as every event must go: access, limits, metering and
// scale-from-zero apply to events as to any call. One keep-alive connection per call in flight,
// reused afterwards; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kubefn/delivery/event.hpp"
#include "kubefn/delivery/outcome.hpp"

namespace kubefn::delivery {

struct GatewayCallerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  // Sent as `Authorization: Bearer <token>`: the dispatcher's own key at the gateway (the
  // gateway never passes it on to the function).
  std::string token;
  std::size_t max_idle_connections = 64;
  std::size_t max_response_bytes = std::size_t{16} * 1024 * 1024;
};

// "http://host:port" (no path) into options; false if it is not that.
bool parse_gateway_url(const std::string& url, GatewayCallerOptions& out);

// A request other than an event's (an asynchronous call's): sent to
// /{ns}/{function}{target} as given, with the caller's own Authorization added.
struct Request {
  std::string method = "POST";
  std::string target = "/";  // path and query after /{ns}/{function}
  HeaderList headers;        // no Host, Authorization or Content-Length: the caller's
  std::string body;
};

// The seam the trigger sources call through (a fake in tests).
class FunctionCaller {
 public:
  virtual ~FunctionCaller() = default;
  // POSTs the event to /{ns}/{function}/ and waits for the answer up to `timeout`.
  virtual CallResult call(const std::string& ns, const std::string& function, const Event& event,
                          int attempt, std::chrono::milliseconds timeout) = 0;
  // Sends `request` and waits for the answer up to `timeout`, keeping its body and
  // Content-Type. This default answers status 0 ("cannot send requests").
  virtual CallResult send(const std::string& ns, const std::string& function,
                          const Request& request, std::chrono::milliseconds timeout);
};

// POSTs `body` to an http:// URL (a callback) on a connection of its own, waiting up to
// `timeout`; the answer's status and reason as CallResult (0: no answer).
CallResult post_to_url(const std::string& url, const HeaderList& headers, const std::string& body,
                       std::chrono::milliseconds timeout);

class GatewayCaller final : public FunctionCaller {
 public:
  explicit GatewayCaller(GatewayCallerOptions options);
  ~GatewayCaller() override;
  GatewayCaller(const GatewayCaller&) = delete;
  GatewayCaller& operator=(const GatewayCaller&) = delete;

  CallResult call(const std::string& ns, const std::string& function, const Event& event,
                  int attempt, std::chrono::milliseconds timeout) override;
  CallResult send(const std::string& ns, const std::string& function, const Request& request,
                  std::chrono::milliseconds timeout) override;

  std::uint64_t connections_opened() const;

 private:
  friend CallResult post_to_url(const std::string&, const HeaderList&, const std::string&,
                                std::chrono::milliseconds);
  // Writes `request` on a pooled connection (once more on a new one when the pooled one was
  // closed before answering) and reads the answer, keeping its body when asked.
  CallResult exchange(const std::string& request, std::chrono::milliseconds timeout,
                      bool keep_body);
  int take_connection(std::string& error);
  void give_back(int fd);

  const GatewayCallerOptions options_;
  mutable std::mutex mu_;
  std::vector<int> idle_;
  std::uint64_t opened_ = 0;
};

}  // namespace kubefn::delivery
