// Structured (one JSON object per line) logs: the access log, lifecycle events and the
// lines a function writes through Context::log().
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "kubefn/function.hpp"

namespace kubefn::runtime {

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

// The Logger a handler gets: lines tagged with the function and the event id.
class FunctionLogger : public Logger {
 public:
  FunctionLogger(LineWriter& out, std::string_view function, std::string_view event_id)
      : out_(out), function_(function), event_id_(event_id) {}
  void write(LogLevel level, std::string_view message) override;

 private:
  LineWriter& out_;
  std::string_view function_;
  std::string_view event_id_;
};

}  // namespace kubefn::runtime
