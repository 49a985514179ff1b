#include "kubefn/gateway/http_proxy.hpp"

#include <charconv>

#include "http_response.hpp"

namespace kubefn::gateway {
namespace {

using runtime::iequals;
using runtime::make_event_id;
using runtime::trim_ows;

constexpr std::string_view kCrlf = "\r\n";

// Calls f(token) for each item of a comma-separated list.
template <typename F>
void for_each_token(std::string_view value, F f) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = trim_ows(value.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

bool list_contains(std::string_view value, std::string_view token) {
  bool found = false;
  for_each_token(value, [&](std::string_view t) { found = found || iequals(t, token); });
  return found;
}

// Whether `name` is listed by one of the Connection header values.
template <typename Headers>
bool named_by_connection(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == "connection" && list_contains(h.value, name)) return true;
  }
  return false;
}

void append_number(std::string& out, std::size_t n) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n);
  (void)ec;
  out.append(buf, static_cast<std::size_t>(p - buf));
}

}  // namespace

std::optional<RoutedTarget> split_route_path(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  std::size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q);
  std::size_t s1 = path.find('/', 1);
  if (s1 == std::string_view::npos || s1 == 1) return std::nullopt;
  std::size_t s2 = path.find('/', s1 + 1);
  RoutedTarget r;
  r.ns = path.substr(1, s1 - 1);
  r.name = s2 == std::string_view::npos ? path.substr(s1 + 1) : path.substr(s1 + 1, s2 - s1 - 1);
  if (r.name.empty()) return std::nullopt;
  std::string_view rest = s2 == std::string_view::npos ? std::string_view() : path.substr(s2);
  r.upstream_target.reserve(rest.size() + query.size() + 1);
  if (rest.empty()) {
    r.upstream_target = "/";
  } else {
    r.upstream_target.assign(rest);
  }
  r.upstream_target.append(query);
  return r;
}

bool is_runtime_reserved(std::string_view upstream_target) {
  std::string_view path = upstream_target.substr(0, upstream_target.find('?'));
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

bool is_hop_header(std::string_view n) {
  switch (n.size()) {
    case 2:
      return n == "te";
    case 6:
      return n == "expect";
    case 7:
      return n == "trailer" || n == "upgrade";
    case 10:
      return n == "connection" || n == "keep-alive";
    case 14:
      return n == "content-length";
    case 16:
      return n == "proxy-connection";
    case 17:
      return n == "transfer-encoding";
    default:
      return false;
  }
}

void build_upstream_head(std::string& out, const runtime::HttpRequest& req,
                         std::string_view target, const ForwardInfo& info) {
  out.append(req.method);
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  bool has_connection = false;
  bool has_event_id = false;
  bool has_host = false;
  std::string_view host;
  std::string_view xff;
  for (const auto& h : req.headers) {
    if (h.name == "connection") has_connection = true;
  }
  for (const auto& h : req.headers) {
    std::string_view n = h.name;
    if (is_hop_header(n)) continue;
    if (n == "x-forwarded-for") {
      xff = h.value;  // extended below
      continue;
    }
    if (n == "x-forwarded-host" || n == "x-forwarded-proto") continue;  // ours replace them
    if (n == "authorization" && info.strip_authorization) continue;
    if (n == "host") {
      // Never dropped because Connection names it: every upstream request has a Host.
      has_host = true;
      host = h.value;
    } else if (n == "event-id") {
      // Kept the same way: the call's id is end to end.
      has_event_id = !h.value.empty();
    } else if (has_connection && named_by_connection(req.headers, n)) {
      continue;
    }
    out.append(n);
    out.append(": ");
    out.append(h.value);
    out.append(kCrlf);
  }
  if (!has_host) {
    // An HTTP/1.0 caller may send no Host; the upstream request is HTTP/1.1, which needs one
    // (the runtime answers 400 without it). The replica is no virtual host: any name does.
    out.append("host: ");
    out.append(info.upstream_host);
    out.append(kCrlf);
  }
  out.append("x-forwarded-for: ");
  if (!xff.empty()) {
    out.append(xff);
    out.append(", ");
  }
  out.append(info.client_ip);
  out.append(kCrlf);
  if (has_host) {
    out.append("x-forwarded-host: ");
    out.append(host);
    out.append(kCrlf);
  }
  out.append("x-forwarded-proto: ");
  out.append(info.proto);
  out.append(kCrlf);
  if (!has_event_id && !info.event_id.empty()) {
    out.append("event-id: ");
    out.append(info.event_id);
    out.append(kCrlf);
  }
  if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    out.append("content-length: ");
    append_number(out, req.body.size());
    out.append(kCrlf);
  }
  out.append(kCrlf);
}

void build_upstream_request(std::string& out, const runtime::HttpRequest& req,
                            std::string_view target, const ForwardInfo& info) {
  build_upstream_head(out, req, target, info);
  out.append(req.body);
}

// ---------------------------------------------------------------------------------------
// Response parser

void HttpResponseParser::reset(bool head_request) {
  head_request_ = head_request;
  stage_ = Stage::kHead;
  head_start_ = 0;
  body_start_ = 0;
  content_length_ = 0;
  // A de-chunked body's storage goes with it: an idle connection holds none.
  if (owned_bytes() > 0) {
    runtime::ChunkedDecoder fresh;
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
        for_each_token(value, [&](std::string_view t) { last = t; });
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
    case runtime::ChunkedDecoder::Step::kNeedMore:
      return ResponseState::kNeedMore;
    case runtime::ChunkedDecoder::Step::kMalformed:
      return fail("malformed chunked body");
    case runtime::ChunkedDecoder::Step::kTooLarge:
      too_large_ = true;
      return fail("response body too large");
    case runtime::ChunkedDecoder::Step::kTrailersTooLarge:
      return fail("trailer fields too large");
    case runtime::ChunkedDecoder::Step::kDone:
      break;
  }
  body_ = chunked_.body();
  consumed_ = chunked_.end();
  stage_ = Stage::kDone;
  return ResponseState::kComplete;
}

void build_client_response_head(std::string& out, const HttpResponseParser& resp,
                                std::size_t body_size, bool close, bool http10_keep_alive) {
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::size_t>(resp.status()));
  out.push_back(' ');
  out.append(resp.reason().empty() ? reason_phrase(resp.status()) : resp.reason());
  out.append(kCrlf);
  bool has_connection = false;
  std::string_view upstream_length;
  for (const auto& h : resp.headers()) {
    if (h.name == "connection") has_connection = true;
    if (h.name == "content-length") upstream_length = h.value;
  }
  for (const auto& h : resp.headers()) {
    if (is_hop_header(h.name)) continue;
    if (has_connection && named_by_connection(resp.headers(), h.name)) continue;
    out.append(h.name);
    out.append(": ");
    out.append(h.value);
    out.append(kCrlf);
  }
  const int status = resp.status();
  if (resp.head_request()) {
    // A HEAD answer keeps the length a GET would have (and says none when it had none).
    if (!upstream_length.empty()) {
      out.append("content-length: ");
      out.append(upstream_length);
      out.append(kCrlf);
    }
  } else if (status != 204 && status != 304) {
    out.append("content-length: ");
    append_number(out, body_size);
    out.append(kCrlf);
  }
  if (close) {
    out.append("connection: close\r\n");
  } else if (http10_keep_alive) {
    out.append("connection: keep-alive\r\n");
  }
  out.append(kCrlf);
}

std::string_view reason_phrase(int status) {
  return runtime::reason_phrase(status);  // one table for every HTTP answer kubefn writes
}

std::string simple_reply(int status, std::string_view content_type, std::string_view body,
                         bool close,
                         const std::vector<std::pair<std::string, std::string>>& extra_headers,
                         bool head_request) {
  std::string out;
  out.reserve(128 + body.size());
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::size_t>(status));
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\ncontent-type: ");
  out.append(content_type);
  out.append("\r\ncontent-length: ");
  append_number(out, body.size());
  out.append(kCrlf);
  for (const auto& [k, v] : extra_headers) {
    out.append(k);
    out.append(": ");
    out.append(v);
    out.append(kCrlf);
  }
  if (close) out.append("connection: close\r\n");
  out.append(kCrlf);
  if (!head_request) out.append(body);
  return out;
}

std::string json_error_body(int status, std::string_view message) {
  std::string out = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out.push_back(c);
    }
  }
  out.append("\",\"status\":");
  out.append(std::to_string(status));
  out.append("}\n");
  return out;
}

}  // namespace kubefn::gateway
