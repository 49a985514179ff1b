#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "kubefn/kube/client_config.hpp"
#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, appended to the server address
  std::string body;
  std::string content_type;
  std::string bearer_token;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
};

// A response body read one line at a time, as the server sends it.
class HttpLineReader {
 public:
  virtual ~HttpLineReader() = default;
  // The next line without its newline; nullopt at a clean end of the body.
  virtual Result<std::optional<std::string>> next_line() = 0;
  // Safe from any thread: aborts the connection so a blocked next_line() returns kCancelled.
  virtual void cancel() = 0;
};

struct HttpStream {
  int status = 0;
  std::optional<std::chrono::seconds> retry_after;
  std::string error_body;                  // set when status is not 2xx
  std::unique_ptr<HttpLineReader> reader;  // set when status is 2xx
};

// The one adapter over cpprestsdk: every exception it throws stops here and becomes a Status.
// Reaching the server at all is all it judges; HTTP error statuses are returned as responses.
class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
  // Opens a long-lived request whose body is read incrementally. `read_timeout` bounds the
  // silence between two reads.
  virtual Result<HttpStream> open_stream(const HttpRequest& request,
                                         std::chrono::seconds read_timeout) = 0;
};

Result<std::unique_ptr<HttpTransport>> make_cpprest_transport(const ClientConfig& config,
                                                              std::chrono::seconds request_timeout,
                                                              const std::string& user_agent);

}  // namespace kubefn::kube
