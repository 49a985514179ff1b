#include "kubefn/http/response_parser.hpp"

#include <charconv>

#include "kubefn/http/status_text.hpp"
#include "kubefn/http/text.hpp"

namespace kubefn::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

}  // namespace

void HttpResponseParser::reset(bool head_request) {
  head_request_ = head_request;
  stage_ = Stage::kHead;
  head_start_ = 0;
  body_start_ = 0;
  content_length_ = 0;
  // A de-chunked body's storage goes with it: an idle connection holds none.
  if (owned_bytes() > 0) {
    ChunkedDecoder fresh;
    std::swap(chunked_, fresh);  // a move assignment would keep the storage
  }
  chunked_.reset(0);
  status_ = 0;
  reason_ = {};
  headers_.clear();
  body_ = {};
  consumed_ = 0;
  keep_alive_ = true;
  error_ = {};
  too_large_ = false;
}

ResponseState HttpResponseParser::fail(std::string_view why) {
  error_ = why;
  keep_alive_ = false;
  stage_ = Stage::kDone;
  return ResponseState::kError;
}

ResponseState HttpResponseParser::parse(std::string_view data) {
  if (!error_.empty()) return ResponseState::kError;
  if (stage_ == Stage::kHead) {
    ResponseState s = parse_head(data);
    if (s != ResponseState::kComplete) return s;
  }
  switch (stage_) {
    case Stage::kLength:
      if (data.size() - body_start_ < content_length_) return ResponseState::kNeedMore;
      body_ = data.substr(body_start_, content_length_);
      consumed_ = body_start_ + content_length_;
      stage_ = Stage::kDone;
      return ResponseState::kComplete;
    case Stage::kChunked:
      return parse_chunked(data);
    case Stage::kClose:
      if (data.size() - body_start_ > max_body_) {
        too_large_ = true;
        return fail("response body too large");
      }
      return ResponseState::kNeedMore;
    case Stage::kDone:
      return ResponseState::kComplete;
    case Stage::kHead:
      break;
  }
  return ResponseState::kNeedMore;
}

ResponseState HttpResponseParser::finish_at_eof(std::string_view data) {
  if (!error_.empty()) return ResponseState::kError;
  if (stage_ == Stage::kHead) {
    ResponseState s = parse_head(data);
    if (s == ResponseState::kError) return s;
    if (s == ResponseState::kNeedMore) return fail("connection closed before the response");
  }
  if (stage_ == Stage::kClose) {
    body_ = data.substr(body_start_);
    consumed_ = data.size();
    keep_alive_ = false;
    stage_ = Stage::kDone;
    return ResponseState::kComplete;
  }
  ResponseState s = parse(data);
  if (s == ResponseState::kNeedMore) return fail("connection closed mid-response");
  return s;
}

ResponseState HttpResponseParser::parse_head(std::string_view data) {
  for (;;) {
    std::size_t end = data.find("\r\n\r\n", head_start_);
    if (end == std::string_view::npos) {
      if (data.size() - head_start_ > max_header_) return fail("response head too large");
      return ResponseState::kNeedMore;
    }
    if (end - head_start_ > max_header_) return fail("response head too large");
    std::string_view head = data.substr(head_start_, end - head_start_);
    std::size_t eol = head.find(kCrlf);
    std::string_view line = head.substr(0, eol);
    // HTTP/1.x SP 3DIGIT SP reason
    if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
        line[8] != ' ') {
      return fail("malformed status line");
    }
    int status = 0;
    for (int i = 9; i < 12; ++i) {
      char c = line[static_cast<std::size_t>(i)];
      if (c < '0' || c > '9') return fail("malformed status code");
      status = status * 10 + (c - '0');
    }
    if (status < 100 || (line.size() > 12 && line[12] != ' ')) return fail("malformed status");
    if (status >= 100 && status < 200) {
      if (status == 101) return fail("upstream switched protocols");
      head_start_ = end + 4;  // interim response: skip it
      continue;
    }
    const bool http10 = line[7] == '0';
    status_ = status;
    reason_ = line.size() > 13 ? line.substr(13) : std::string_view();
    headers_.clear();
    bool has_length = false;
    bool chunked = false;
    bool other_coding = false;
    bool conn_close = false;
    bool conn_keep_alive = false;
    std::string_view rest =
        eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
    while (!rest.empty()) {
      std::size_t e = rest.find(kCrlf);
      std::string_view field = rest.substr(0, e);
      rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
      if (field.empty()) continue;
      if (field.front() == ' ' || field.front() == '\t') return fail("obsolete line folding");
      std::size_t colon = field.find(':');
      if (colon == std::string_view::npos || colon == 0) return fail("malformed header field");
      std::string_view name = field.substr(0, colon);
      char* p = const_cast<char*>(name.data());
      for (std::size_t i = 0; i < name.size(); ++i) {
        char c = p[i];
        if (c == ' ' || c == '\t') return fail("malformed header field name");
        if (c >= 'A' && c <= 'Z') p[i] = static_cast<char>(c - 'A' + 'a');
      }
      std::string_view value = trim_ows(field.substr(colon + 1));
      for (char c : value) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return fail("malformed header field value");
      }
      if (headers_.size() >= 200) return fail("too many header fields");
      headers_.push_back({name, value});
      if (name == "content-length") {
        std::size_t n = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
          return fail("invalid content-length");
        }
        if (has_length && n != content_length_) return fail("conflicting content-length");
        has_length = true;
        content_length_ = n;
      } else if (name == "transfer-encoding") {
        // The last coding decides the framing.
        std::string_view last;
        for_each_list_item(value, [&](std::string_view t) { last = t; });
        if (iequals(last, "chunked")) {
          chunked = true;
          other_coding = false;
        } else {
          other_coding = true;
        }
      } else if (name == "connection") {
        if (list_contains(value, "close")) conn_close = true;
        if (list_contains(value, "keep-alive")) conn_keep_alive = true;
      }
    }
    keep_alive_ = http10 ? conn_keep_alive && !conn_close : !conn_close;
    body_start_ = end + 4;
    if (head_request_ || status == 204 || status == 304) {
      stage_ = Stage::kDone;
      consumed_ = body_start_;
      return ResponseState::kComplete;
    }
    if (other_coding) {
      stage_ = Stage::kClose;  // RFC 9112 6.3: read until the connection closes
      keep_alive_ = false;
    } else if (chunked) {
      stage_ = Stage::kChunked;
      chunked_.reset(body_start_);
    } else if (has_length) {
      if (content_length_ > max_body_) {
        too_large_ = true;
        return fail("response body too large");
      }
      stage_ = Stage::kLength;
    } else {
      stage_ = Stage::kClose;
      keep_alive_ = false;
    }
    return ResponseState::kComplete;  // head done
  }
}

ResponseState HttpResponseParser::parse_chunked(std::string_view data) {
  switch (chunked_.decode(data, max_body_, max_header_)) {
    case ChunkedDecoder::Step::kNeedMore:
      return ResponseState::kNeedMore;
    case ChunkedDecoder::Step::kMalformed:
      return fail("malformed chunked body");
    case ChunkedDecoder::Step::kTooLarge:
      too_large_ = true;
      return fail("response body too large");
    case ChunkedDecoder::Step::kTrailersTooLarge:
      return fail("trailer fields too large");
    case ChunkedDecoder::Step::kDone:
      break;
  }
  body_ = chunked_.body();
  consumed_ = chunked_.end();
  stage_ = Stage::kDone;
  return ResponseState::kComplete;
}

}  // namespace kubefn::http
