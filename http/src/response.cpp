#include "kubefn/http/response.hpp"

#include <ctime>

#include "kubefn/http/text.hpp"

namespace kubefn::http {
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
  return eq("content-length") || eq("transfer-encoding") || eq("connection") || eq("date") ||
         eq(kExecutionHeader);
}

}  // namespace

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

void append_response_head(std::string& out, int status, std::size_t content_length,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          bool close, bool http10_keep_alive, std::int64_t execution_ns) {
  out += "HTTP/1.1 ";
  append_decimal(out, static_cast<std::size_t>(status));
  out += ' ';
  out += reason_phrase(status);
  if (status_has_body(status)) {
    out += "\r\ncontent-length: ";
    append_decimal(out, content_length);
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
  if (execution_ns >= 0) {
    out += kExecutionHeader;
    out += ": ";
    append_decimal(out, static_cast<std::size_t>(execution_ns));
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

}  // namespace kubefn::http
