// Chunked transfer coding (RFC 9112 section 7.1).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kubefn/http/text.hpp"

namespace kubefn::http {

// An incremental decoder of a chunked message body (RFC 9112 section 7.1) within a buffer that
// holds every byte received so far and grows between calls. The runtime's request parser and
// the gateway's response parser share it.
class ChunkedDecoder {
 public:
  enum class Step { kNeedMore, kDone, kMalformed, kTooLarge, kTrailersTooLarge };

  // The body starts at `start` within the buffer.
  void reset(std::size_t start) {
    pos_ = start;
    end_ = 0;
    body_.clear();
  }
  // Decodes what `data` holds past the chunks already taken. On kDone, body() is whole and
  // end() is where the message ends within `data`.
  Step decode(std::string_view data, std::size_t max_body, std::size_t max_trailers);
  const std::string& body() const { return body_; }
  std::size_t end() const { return end_; }
  // Bytes the de-chunked body's storage holds, and giving them back (body() becomes empty).
  std::size_t capacity() const { return heap_bytes(body_); }
  void release() { std::string().swap(body_); }

 private:
  std::size_t pos_ = 0;  // the next chunk's size line, within data
  std::size_t end_ = 0;
  std::string body_;
};

}  // namespace kubefn::http
