// /healthz, /readyz and /metrics of the operator (and of the local platform) over plain HTTP/1.1
// (one request per connection; scrapes and probes need no more), and any further GET routes a
// program adds (the local platform's console and its JSON API).
#pragma once

#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace kubefn::telemetry {

// What a route answers. `headers` are added to the response's (content-type, content-length and
// connection are the server's; a header whose name or value holds CR or LF is left out). A
// reply with an `etag` header is answered 304 without a body to a request whose If-None-Match
// names that tag.
struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Called on the server's thread with the request's query (what follows '?', without it; empty
// when there is none). An exception it throws is answered 500 with its message on one line.
using RouteHandler = std::function<HttpReply(std::string_view query)>;
// By exact path ("/", "/api/v1/cost"); GET and HEAD only (other methods get 405).
using Routes = std::map<std::string, RouteHandler, std::less<>>;

class HealthServer {
 public:
  // Binds address:port (0 picks one) before returning; throws std::runtime_error on failure.
  // `extra_metrics`, when set, returns exposition text appended to the registry's on /metrics.
  // `routes` are served beside /healthz, /readyz and /metrics (which take precedence); any
  // other path is 404. With `allowed_hosts` (names or addresses, no port), a request whose
  // Host is not one of them (alone or with this server's port) is answered 403 whatever its
  // path: a
  // page whose own name was made to resolve to this machine still sends that name.
  HealthServer(const std::string& address, std::uint16_t port, prometheus::Registry& registry,
               std::function<bool()> ready, std::function<std::string()> extra_metrics = {},
               Routes routes = {}, std::vector<std::string> allowed_hosts = {});
  ~HealthServer();
  std::uint16_t port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace kubefn::telemetry
