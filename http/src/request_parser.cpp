#include "kubefn/http/request_parser.hpp"

#include <charconv>
#include <cstring>

namespace kubefn::http {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool valid_field_value(std::string_view v) {
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 reg-name characters: unreserved, sub-delims and '%' of pct-encoded.
bool is_reg_name_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case '%':
      return true;
    default:
      return false;
  }
}

// uri-host [ ":" port ] (RFC 9110 section 7.2), empty included: what a Host field or an
// absolute-form target's authority may hold. No userinfo.
bool valid_authority(std::string_view a) {
  std::size_t i = 0;
  if (!a.empty() && a.front() == '[') {
    // IP-literal: an IPv6 address (or IPvFuture) in brackets.
    std::size_t close = a.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : a.substr(1, close - 1)) {
      if (!is_hex(c) && c != ':' && c != '.' && c != 'v' && c != 'V') return false;
    }
    i = close + 1;
  } else {
    while (i < a.size() && is_reg_name_char(a[i]))
      ++i;
  }
  if (i == a.size()) return true;
  if (a[i] != ':') return false;
  for (char c : a.substr(i + 1)) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view lower_name) const {
  for (const Header& h : headers) {
    if (h.name == lower_name) return h.value;
  }
  return {};
}

void HttpRequestParser::reset() {
  request_ = HttpRequest{};
  stage_ = Stage::kHeaders;
  body_kind_ = BodyKind::kNone;
  scan_from_ = 0;
  head_size_ = 0;
  content_length_ = 0;
  chunked_.reset(0);
  consumed_ = 0;
  error_status_ = 0;
  error_reason_ = {};
  origin_target_.clear();
}

std::size_t HttpRequestParser::buffered_bytes() const {
  return chunked_.capacity() + heap_bytes(origin_target_);
}

void HttpRequestParser::release_buffers() {
  reset();
  chunked_.release();
  std::string().swap(origin_target_);
}

ParseState HttpRequestParser::fail(int status, std::string_view reason) {
  error_status_ = status;
  error_reason_ = reason;
  return ParseState::kError;
}

ParseState HttpRequestParser::parse(std::string_view data) {
  if (error_status_ != 0) return ParseState::kError;
  if (stage_ == Stage::kHeaders) {
    // Tolerate empty lines before the request line (RFC 9112 section 2.2).
    std::size_t lead = 0;
    while (lead + 1 < data.size() && data[lead] == '\r' && data[lead + 1] == '\n')
      lead += 2;
    std::size_t from = scan_from_ > lead ? scan_from_ : lead;
    std::size_t end = data.find("\r\n\r\n", from >= 3 ? from - 3 : 0);
    if (end == std::string_view::npos) {
      if (data.size() - lead > limits_.max_header_bytes) {
        return fail(431, "request header fields too large");
      }
      scan_from_ = data.size();
      return ParseState::kNeedMore;
    }
    head_size_ = end + 4;
    if (head_size_ - lead > limits_.max_header_bytes) {
      return fail(431, "request header fields too large");
    }
    ParseState s = parse_head(data.substr(lead, end - lead));
    if (s == ParseState::kError) return s;
    stage_ = Stage::kBody;
    if (body_kind_ == BodyKind::kNone) {
      stage_ = Stage::kDone;
      consumed_ = head_size_;
      return ParseState::kComplete;
    }
    chunked_.reset(head_size_);
  }
  if (stage_ == Stage::kBody) {
    if (body_kind_ == BodyKind::kLength) {
      if (data.size() - head_size_ < content_length_) return ParseState::kHeadersDone;
      request_.body = data.substr(head_size_, content_length_);
      consumed_ = head_size_ + content_length_;
      stage_ = Stage::kDone;
      return ParseState::kComplete;
    }
    return parse_chunked(data);
  }
  return ParseState::kComplete;
}

ParseState HttpRequestParser::parse_head(std::string_view head) {
  // Request line: method SP request-target SP HTTP-version
  std::size_t eol = head.find(kCrlf);
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  request_.method = line.substr(0, sp1);
  request_.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(request_.method)) return fail(400, "malformed method");
  if (request_.target.empty() || request_.target.find(' ') != std::string_view::npos) {
    return fail(400, "malformed request target");
  }
  for (char c : request_.target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return fail(400, "malformed request target");
  }
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' ||
      version[7] > '9') {
    if (version.substr(0, 5) == "HTTP/") return fail(505, "HTTP version not supported");
    return fail(400, "malformed HTTP version");
  }
  request_.version_minor = version[7] - '0';
  request_.keep_alive = request_.version_minor >= 1;
  // The target's authority when it is in absolute form.
  std::string_view target_host;
  bool absolute_form = false;
  if (request_.target.front() != '/') {
    absolute_form = request_.target != "*";
    if (parse_target(&target_host) == ParseState::kError) return ParseState::kError;
  }
  std::string_view target = request_.target;
  std::size_t q = target.find('?');
  if (!origin_target_.empty()) {
    request_.path = "/";  // the target had no path: "http://host?query"
  } else {
    request_.path = target.substr(0, q);
  }
  request_.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);

  bool has_length = false;
  bool chunked = false;
  std::size_t hosts = 0;
  std::size_t host_index = 0;  // within request_.headers
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    std::size_t e = rest.find(kCrlf);
    std::string_view field = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    if (field.empty()) continue;
    if (field.front() == ' ' || field.front() == '\t') return fail(400, "obsolete line folding");
    std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return fail(400, "malformed header field");
    std::string_view name = field.substr(0, colon);
    if (!is_token(name)) return fail(400, "malformed header field name");
    std::string_view value = trim_ows(field.substr(colon + 1));
    if (!valid_field_value(value)) return fail(400, "malformed header field value");
    if (request_.headers.size() >= limits_.max_headers) {
      return fail(431, "too many request header fields");
    }
    // Lower-case the name in place: the bytes belong to the connection's buffer.
    char* p = const_cast<char*>(name.data());
    for (std::size_t i = 0; i < name.size(); ++i) {
      if (p[i] >= 'A' && p[i] <= 'Z') p[i] = static_cast<char>(p[i] - 'A' + 'a');
    }
    request_.headers.push_back(Header{name, value});

    if (name == "content-length") {
      std::size_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
        return fail(400, "invalid content-length");
      }
      if (has_length && n != content_length_) return fail(400, "conflicting content-length");
      has_length = true;
      content_length_ = n;
    } else if (name == "transfer-encoding") {
      // Only "chunked" as the final (and here, only) coding is understood.
      if (!iequals(trim_ows(value), "chunked")) {
        return fail(501, "unsupported transfer-encoding");
      }
      chunked = true;
    } else if (name == "connection") {
      if (list_contains(value, "close")) request_.keep_alive = false;
      if (list_contains(value, "keep-alive")) request_.keep_alive = true;
    } else if (name == "expect") {
      if (!iequals(value, "100-continue")) return fail(417, "unsupported expectation");
      request_.expect_continue = true;
    } else if (name == "host") {
      ++hosts;
      host_index = request_.headers.size() - 1;
    }
  }
  if (chunked && has_length) {
    // A request smuggling vector (RFC 9112 section 6.1): refuse rather than guess.
    return fail(400, "both transfer-encoding and content-length");
  }
  // RFC 9112 section 3.2: exactly one valid Host in HTTP/1.1, at most one in HTTP/1.0.
  if (hosts > 1) return fail(400, "more than one host header field");
  if (hosts == 0 && request_.version_minor >= 1) return fail(400, "missing host header field");
  if (hosts == 1) {
    Header& field = request_.headers[host_index];
    if (!valid_authority(field.value)) return fail(400, "malformed host header field");
    // Section 3.2.2: an absolute-form target's authority wins over the field.
    if (absolute_form) field.value = target_host;
    request_.host = field.value;
  } else if (absolute_form) {
    request_.host = target_host;
  }
  if (chunked) {
    if (request_.version_minor == 0) return fail(400, "chunked encoding in HTTP/1.0");
    body_kind_ = BodyKind::kChunked;
  } else if (has_length && content_length_ > 0) {
    if (content_length_ > limits_.max_body_bytes) return fail(413, "request body too large");
    body_kind_ = BodyKind::kLength;
  }
  return ParseState::kHeadersDone;
}

// A target that does not start with '/': asterisk-form (only for OPTIONS) or absolute-form
// (RFC 9112 sections 3.2.4 and 3.2.2). An absolute-form target becomes its origin form, and
// `host` its authority.
ParseState HttpRequestParser::parse_target(std::string_view* host) {
  std::string_view target = request_.target;
  if (target == "*") {
    if (request_.method != "OPTIONS") return fail(400, "malformed request target");
    return ParseState::kHeadersDone;
  }
  std::size_t sep = target.find("://");
  if (sep == std::string_view::npos) return fail(400, "malformed request target");
  std::string_view scheme = target.substr(0, sep);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
    return fail(400, "request target scheme is not http or https");
  }
  std::string_view rest = target.substr(sep + 3);
  std::size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  if (authority.empty() || !valid_authority(authority)) {
    return fail(400, "malformed request target authority");
  }
  *host = authority;
  if (end == std::string_view::npos) {
    request_.target = "/";
  } else if (rest[end] == '/') {
    request_.target = rest.substr(end);
  } else {
    // "http://host?query": the origin form "/?query" is not in the buffer.
    // clear() and push_back(), not = "/": g++ 12 at -O2 reports a false -Wrestrict overlap
    // for the literal assignment here.
    origin_target_.clear();
    origin_target_.reserve(rest.size() - end + 1);
    origin_target_.push_back('/');
    origin_target_.append(rest.substr(end));
    request_.target = origin_target_;
  }
  return ParseState::kHeadersDone;
}

ParseState HttpRequestParser::parse_chunked(std::string_view data) {
  switch (chunked_.decode(data, limits_.max_body_bytes, limits_.max_header_bytes)) {
    case ChunkedDecoder::Step::kNeedMore:
      return ParseState::kHeadersDone;
    case ChunkedDecoder::Step::kMalformed:
      return fail(400, "malformed chunked body");
    case ChunkedDecoder::Step::kTooLarge:
      return fail(413, "request body too large");
    case ChunkedDecoder::Step::kTrailersTooLarge:
      return fail(431, "request trailer fields too large");
    case ChunkedDecoder::Step::kDone:
      break;
  }
  request_.body = chunked_.body();
  consumed_ = chunked_.end();
  stage_ = Stage::kDone;
  return ParseState::kComplete;
}

}  // namespace kubefn::http
