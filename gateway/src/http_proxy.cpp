#include "kubefn/gateway/http_proxy.hpp"

#include <charconv>

#include "kubefn/http/event_id.hpp"
#include "kubefn/http/response.hpp"
#include "kubefn/http/text.hpp"

namespace kubefn::gateway {
namespace {

using http::append_decimal;
using http::iequals;
using http::list_contains;
using http::make_event_id;
using http::reason_phrase;
using http::trim_ows;

constexpr std::string_view kCrlf = "\r\n";

// Whether `name` is listed by one of the Connection header values.
template <typename Headers>
bool named_by_connection(const Headers& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == "connection" && list_contains(h.value, name)) return true;
  }
  return false;
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

void build_upstream_head(std::string& out, const http::HttpRequest& req, std::string_view target,
                         const ForwardInfo& info) {
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
    append_decimal(out, req.body.size());
    out.append(kCrlf);
  }
  out.append(kCrlf);
}

void build_upstream_request(std::string& out, const http::HttpRequest& req, std::string_view target,
                            const ForwardInfo& info) {
  build_upstream_head(out, req, target, info);
  out.append(req.body);
}

// ---------------------------------------------------------------------------------------
// Response parser

void build_client_response_head(std::string& out, const http::HttpResponseParser& resp,
                                std::size_t body_size, bool close, bool http10_keep_alive) {
  out.append("HTTP/1.1 ");
  append_decimal(out, static_cast<std::size_t>(resp.status()));
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
    if (h.name == http::kExecutionHeader) continue;  // for the gateway's meter only
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
    append_decimal(out, body_size);
    out.append(kCrlf);
  }
  if (close) {
    out.append("connection: close\r\n");
  } else if (http10_keep_alive) {
    out.append("connection: keep-alive\r\n");
  }
  out.append(kCrlf);
}

std::string simple_reply(int status, std::string_view content_type, std::string_view body,
                         bool close,
                         const std::vector<std::pair<std::string, std::string>>& extra_headers,
                         bool head_request) {
  std::string out;
  out.reserve(128 + body.size());
  out.append("HTTP/1.1 ");
  append_decimal(out, static_cast<std::size_t>(status));
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\ncontent-type: ");
  out.append(content_type);
  out.append("\r\ncontent-length: ");
  append_decimal(out, body.size());
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
