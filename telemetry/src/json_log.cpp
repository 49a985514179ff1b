#include "kubefn/telemetry/json_log.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace kubefn::telemetry {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(static_cast<unsigned long long>(us) % 1000000ULL));
  return buf;
}

void LineWriter::write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a broken log stream; drop the lines
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void LineWriter::append(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  buffer_.append(line);
  if (buffer_.size() >= flush_bytes_) {
    write_all(buffer_);
    buffer_.clear();
  }
}

void LineWriter::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (buffer_.empty()) return;
  write_all(buffer_);
  buffer_.clear();
}

void LineWriter::write_now(std::string_view line) {
  std::lock_guard<std::mutex> lock(mu_);
  buffer_.append(line);
  write_all(buffer_);
  buffer_.clear();
}

void log_event(LineWriter& out, std::string_view level, std::string_view msg,
               std::string_view extra_fields) {
  std::string line;
  line.reserve(128 + msg.size() + extra_fields.size());
  line += "{\"ts\":\"";
  line += rfc3339_now();
  line += "\",\"level\":";
  append_json_string(line, level);
  line += ",\"msg\":";
  append_json_string(line, msg);
  line += extra_fields;
  line += "}\n";
  out.write_now(line);
}
}  // namespace kubefn::telemetry
