#include "http_response.hpp"

#include <charconv>
#include <ctime>

namespace kubefn::runtime {
namespace {

bool owned_by_runtime(std::string_view name) {
  auto eq = [&](std::string_view k) {
    if (name.size() != k.size()) return false;
    for (std::size_t i = 0; i < k.size(); ++i) {
      char c = name[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != k[i]) return false;
    }
    return true;
  };
  return eq("content-length") || eq("transfer-encoding") || eq("connection") || eq("date");
}

void append_number(std::string& out, std::size_t n) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n);
  (void)ec;
  out.append(buf, p);
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

std::string_view http_date() {
  thread_local std::time_t cached_second = 0;
  thread_local char cached[32];
  std::time_t now = std::time(nullptr);
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_second = now;
  }
  return cached;
}

bool status_has_body(int status) {
  return status >= 200 && status != 204 && status != 304;
}

void append_response_head(std::string& out, int status, std::size_t content_length,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          bool close, bool http10_keep_alive) {
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::size_t>(status));
  out += ' ';
  out += reason_phrase(status);
  if (status_has_body(status)) {
    out += "\r\ncontent-length: ";
    append_number(out, content_length);
  }
  out += "\r\ndate: ";
  out += http_date();
  out += "\r\n";
  for (const auto& [name, value] : headers) {
    if (owned_by_runtime(name)) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (close) {
    out += "connection: close\r\n";
  } else if (http10_keep_alive) {
    out += "connection: keep-alive\r\n";
  }
  out += "\r\n";
}

std::string simple_response(int status, std::string_view content_type, std::string_view body,
                            bool close, bool http10_keep_alive) {
  std::string out;
  out.reserve(160 + body.size());
  append_response_head(out, status, body.size(), {{"content-type", std::string(content_type)}},
                       close, http10_keep_alive);
  out += body;
  return out;
}

}  // namespace kubefn::runtime
