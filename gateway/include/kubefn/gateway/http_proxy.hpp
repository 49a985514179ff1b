// The HTTP pieces of a proxy hop: routing a request target, rewriting a request for the
// upstream, parsing the upstream's response and rewriting it for the client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http_parser.hpp"

namespace kubefn::gateway {

// "/{namespace}/{function}/rest?query" split into its parts; `upstream_target` is
// "/rest?query" ("/" plus the query when rest is empty). nullopt when the target has no
// namespace and function segments.
struct RoutedTarget {
  std::string_view ns;
  std::string_view name;
  std::string upstream_target;
};
std::optional<RoutedTarget> split_route_path(std::string_view target);

// True when the path of `upstream_target` is one the runtime answers itself (/healthz,
// /readyz, /metrics): the gateway never forwards those, only the platform sees them.
bool is_runtime_reserved(std::string_view upstream_target);

// What the runtime accepts as a request head, and the most the gateway adds to one when
// forwarding it: X-Forwarded-For/-Proto, event-id and Content-Length fit in
// kForwardHeadroomBytes, X-Forwarded-Host repeats the Host value on top of that. A client
// head is refused (431) unless it fits the runtime's limits with that headroom.
constexpr std::size_t kUpstreamHeadLimit = std::size_t{64} * 1024;
constexpr std::size_t kUpstreamHeaderFieldLimit = 100;
constexpr std::size_t kForwardHeadroomBytes = 512;
constexpr std::size_t kForwardHeaderFields = 5;

// True for header names (lower-case) that belong to one hop and are never forwarded:
// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, plus
// framing (Content-Length, recomputed) and Expect (answered by the gateway).
bool is_hop_header(std::string_view lower_name);

struct ForwardInfo {
  std::string_view client_ip;
  std::string_view proto = "http";
  std::string_view event_id;  // used when the request carries no event-id
  // The gateway checked the caller's Authorization itself (a private function): it is the
  // caller's credential for the gateway, and never reaches function code.
  bool strip_authorization = false;
  // The Host sent when the caller sent none (HTTP/1.0): the upstream request is HTTP/1.1.
  std::string_view upstream_host = "replica";
};

// Appends the head of the request to send upstream: same method, `target`, the end-to-end
// headers (minus the ones the Connection header names, which can never remove Host or
// event-id), X-Forwarded-For/-Host/-Proto, event-id when absent, and Content-Length for
// the (de-chunked) body. The body itself follows the head unchanged.
void build_upstream_head(std::string& out, const runtime::HttpRequest& req,
                         std::string_view target, const ForwardInfo& info);
// The head, then the body.
void build_upstream_request(std::string& out, const runtime::HttpRequest& req,
                            std::string_view target, const ForwardInfo& info);

struct ResponseHeader {
  std::string_view name;  // lower-case
  std::string_view value;
};

enum class ResponseState { kNeedMore, kComplete, kError };

// Incremental HTTP/1.1 response parser over a caller-owned buffer holding every byte
// received so far. Content-Length, chunked (de-chunked into body()) and close-delimited
// bodies (call finish_at_eof() when the connection ends). Interim 1xx responses are skipped.
// Like the request parser it lower-cases header names in place, so the buffer must be
// writable.
class HttpResponseParser {
 public:
  explicit HttpResponseParser(std::size_t max_body_bytes = std::size_t{64} * 1024 * 1024,
                              std::size_t max_header_bytes = std::size_t{64} * 1024)
      : max_body_(max_body_bytes), max_header_(max_header_bytes) {}

  // `head_request`: the request was HEAD, so the response has no body whatever it says.
  void reset(bool head_request = false);
  ResponseState parse(std::string_view data);
  // The connection closed after `data`: completes a close-delimited body.
  ResponseState finish_at_eof(std::string_view data);

  bool head_request() const { return head_request_; }
  int status() const { return status_; }
  std::string_view reason() const { return reason_; }
  const std::vector<ResponseHeader>& headers() const { return headers_; }
  std::string_view body() const { return body_; }
  // Bytes of `data` this response used (the rest would belong to no one: an upstream must
  // not send more).
  std::size_t consumed() const { return consumed_; }
  // Whether the connection can carry another request after this response.
  bool keep_alive() const { return keep_alive_; }
  std::string_view error() const { return error_; }
  // The error was the body (or the declared length) going over max_body_bytes.
  bool too_large() const { return too_large_; }
  std::size_t max_body_bytes() const { return max_body_; }
  // Bytes the parser holds of its own (a de-chunked body), beyond the caller's buffer.
  std::size_t owned_bytes() const {
    const std::size_t n = chunked_.body().capacity();
    return n > std::string().capacity() ? n : 0;  // the string's own inline room is not storage
  }

 private:
  enum class Stage { kHead, kLength, kChunked, kClose, kDone };
  ResponseState fail(std::string_view why);
  ResponseState parse_head(std::string_view data);
  ResponseState parse_chunked(std::string_view data);

  std::size_t max_body_;
  std::size_t max_header_;
  bool head_request_ = false;
  Stage stage_ = Stage::kHead;
  std::size_t head_start_ = 0;  // after skipped 1xx responses
  std::size_t body_start_ = 0;
  std::size_t content_length_ = 0;
  runtime::ChunkedDecoder chunked_;
  int status_ = 0;
  std::string_view reason_;
  std::vector<ResponseHeader> headers_;
  std::string_view body_;
  std::size_t consumed_ = 0;
  bool keep_alive_ = true;
  std::string_view error_;
  bool too_large_ = false;
};

// Appends the status line and headers to send the client: the upstream's end-to-end
// headers, Content-Length for `body_size` (for a HEAD request: the upstream's own
// Content-Length, what a GET would carry, or none when it sent none), and Connection: close
// when `close`.
void build_client_response_head(std::string& out, const HttpResponseParser& resp,
                                std::size_t body_size, bool close, bool http10_keep_alive);

// A complete response generated by the gateway itself (errors, health, metrics). For a HEAD
// request (`head_request`) it carries the body's Content-Length and no body.
std::string simple_reply(
    int status, std::string_view content_type, std::string_view body, bool close,
    const std::vector<std::pair<std::string, std::string>>& extra_headers = {},
    bool head_request = false);
// {"error":"...","status":N}
std::string json_error_body(int status, std::string_view message);

std::string_view reason_phrase(int status);

}  // namespace kubefn::gateway
