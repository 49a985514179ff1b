// Incremental HTTP/1.1 request parser over a caller-owned buffer.
//
// The parser never copies header bytes: the request it produces points into the buffer
// (and, for chunked bodies, into a body string the parser owns). It enforces the limits
// that protect a server: header block size, header count and body size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/function.hpp"
#include "kubefn/http/chunked.hpp"
#include "kubefn/http/text.hpp"

namespace kubefn::http {

struct HttpLimits {
  std::size_t max_header_bytes = std::size_t{64} * 1024;
  std::size_t max_headers = 100;
  std::size_t max_body_bytes = std::size_t{8} * 1024 * 1024;
};

struct HttpRequest {
  std::string_view method;
  // Origin form: path plus optional '?query' (of an absolute-form target, what follows the
  // authority, "/" for an empty path); "*" for OPTIONS *.
  std::string_view target;
  std::string_view path;
  std::string_view query;
  // The authority the request is for (RFC 9112 section 3.2.2): an absolute-form target's,
  // else the Host header's; empty for HTTP/1.0 without Host. The "host" entry of `headers`
  // says the same.
  std::string_view host;
  int version_minor = 1;  // HTTP/1.x
  std::vector<Header> headers;
  std::string_view body;
  bool keep_alive = true;
  bool expect_continue = false;

  std::string_view header(std::string_view lower_name) const;
};

enum class ParseState {
  kNeedMore,     // feed more bytes
  kHeadersDone,  // headers parsed, body pending: caller may answer 100-continue
  kComplete,     // request() is whole; consumed() bytes belong to it
  kError,        // error_status() and error_reason() say why; close after answering
};

class HttpRequestParser {
 public:
  explicit HttpRequestParser(HttpLimits limits) : limits_(limits) {}

  // Parses from the start of `data`, which holds every byte received for this request so
  // far (and possibly bytes of the next ones). Call again with the longer buffer after a
  // kNeedMore or kHeadersDone. Views in request() point into `data`, which must not move
  // once kHeadersDone or kComplete was returned.
  ParseState parse(std::string_view data);

  const HttpRequest& request() const { return request_; }
  std::size_t consumed() const { return consumed_; }
  int error_status() const { return error_status_; }
  std::string_view error_reason() const { return error_reason_; }
  // Whether the body is still unread when headers are done (for 100-continue).
  bool has_pending_body() const { return body_kind_ != BodyKind::kNone; }

  void reset();
  // Bytes the parser's own storage holds (a de-chunked body), and giving them back between
  // requests; either invalidates request().
  std::size_t buffered_bytes() const;
  void release_buffers();

 private:
  enum class Stage { kHeaders, kBody, kDone };
  enum class BodyKind { kNone, kLength, kChunked };

  ParseState fail(int status, std::string_view reason);
  ParseState parse_head(std::string_view head);
  ParseState parse_target(std::string_view* host);
  ParseState parse_chunked(std::string_view data);

  HttpLimits limits_;
  HttpRequest request_;
  Stage stage_ = Stage::kHeaders;
  BodyKind body_kind_ = BodyKind::kNone;
  std::size_t scan_from_ = 0;  // where to resume looking for the end of headers
  std::size_t head_size_ = 0;  // bytes of request line plus headers plus blank line
  std::size_t content_length_ = 0;
  ChunkedDecoder chunked_;
  std::size_t consumed_ = 0;
  int error_status_ = 0;
  std::string_view error_reason_;
  std::string origin_target_;  // "/?query" of an absolute-form target without a path
};

}  // namespace kubefn::http
