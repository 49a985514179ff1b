// Structured logs, one JSON object per line: the writer every kubefn process logs through
// (the runtime's access log, lifecycle lines, the operator's and the gateway's).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace kubefn::telemetry {

// Appends `s` to `out` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view s);

// UTC time as RFC 3339 with microseconds, e.g. 2026-11-23T21:40:00.123456Z.
std::string rfc3339_now();

// Thread-safe line buffer over a file descriptor. Lines are written when the buffer
// passes `flush_bytes` or when flush() is called (the runtime does so every tick), so
// the access log costs no system call per request.
class LineWriter {
 public:
  LineWriter(int fd, std::size_t flush_bytes) : fd_(fd), flush_bytes_(flush_bytes) {}
  ~LineWriter() { flush(); }
  void append(std::string_view line);  // line must end with '\n'
  void flush();
  void write_now(std::string_view line);  // append and flush

 private:
  void write_all(std::string_view data);

  int fd_;
  std::size_t flush_bytes_;
  std::mutex mu_;
  std::string buffer_;
};

// Writes a lifecycle line: {"ts":..,"level":..,"msg":..} plus extra pre-rendered fields
// (",\"port\":8080" style) to the writer at once.
void log_event(LineWriter& out, std::string_view level, std::string_view msg,
               std::string_view extra_fields = {});

}  // namespace kubefn::telemetry
