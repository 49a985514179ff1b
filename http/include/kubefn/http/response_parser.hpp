// Incremental HTTP/1.1 response parser (what a proxy reads from its upstream).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "kubefn/http/chunked.hpp"

namespace kubefn::http {

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
  ChunkedDecoder chunked_;
  int status_ = 0;
  std::string_view reason_;
  std::vector<ResponseHeader> headers_;
  std::string_view body_;
  std::size_t consumed_ = 0;
  bool keep_alive_ = true;
  std::string_view error_;
  bool too_large_ = false;
};

}  // namespace kubefn::http
