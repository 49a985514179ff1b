// A small blocking HTTP(S) client for the gateway and the pods' log API.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kubefn/kube/client_config.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::cli {

struct HttpCall {
  std::string method = "GET";
  std::string url;  // absolute
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool has_body = false;
  std::chrono::seconds timeout{60};
  // TLS and bearer credentials (the API server's); empty for the gateway.
  const kube::ClientConfig* credentials = nullptr;
};

struct HttpResult {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

kube::Result<HttpResult> http_send(const HttpCall& call);

// Streams a response body to `on_chunk` as it arrives (for following logs); returns when the
// body ends, the server fails, or `on_chunk` returns false.
kube::Result<int> http_stream(const HttpCall& call,
                              const std::function<bool(const std::string& chunk)>& on_chunk);

}  // namespace kubefn::cli
