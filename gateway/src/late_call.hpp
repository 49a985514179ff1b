// A call answered 504 while its replica still works on it.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <memory>

#include "gateway_core.hpp"
#include "kubefn/http/response_parser.hpp"
#include "upstream_pool.hpp"

namespace kubefn::gateway {

// It keeps the replica's in-flight count and the function's concurrency slot until the
// replica answers (the late response is read and dropped, and the connection is pooled again)
// or the connection fails, for at most a grace of the function's timeout; then the connection
// is closed and both are released. So the gateway never sends a replica more calls than it is
// really working on.
//
// Threading: lives on its worker's thread (the session's that handed it off); the worker's
// late_calls set holds a raw pointer until finish().
class LateCall : public std::enable_shared_from_this<LateCall> {
 public:
  // Takes over the session's connection, its replica's in-flight count and (slot_held) its
  // concurrency slot; counts the connection's buffer in the budget again.
  LateCall(Worker& w, std::unique_ptr<Upstream> up, std::shared_ptr<EndpointLoad> load,
           std::shared_ptr<const FunctionRoute> route, bool slot_held, bool head_request);

  void start();
  // Releases what it kept; pools the connection again when `reusable`, else closes it.
  void finish(bool reusable);

 private:
  void resume(http::ResponseState st);

  Worker& w_;
  GatewayCore& core_;
  std::unique_ptr<Upstream> up_;
  std::shared_ptr<EndpointLoad> load_;
  std::shared_ptr<const FunctionRoute> route_;
  bool slot_held_;
  http::HttpResponseParser resp_;
  boost::asio::steady_timer timer_;
  std::size_t held_ = 0;
  bool done_ = false;
};

}  // namespace kubefn::gateway
