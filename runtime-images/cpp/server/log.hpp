// The runtime's log lines: the Logger a handler gets (Context::log()), JSON lines tagged with
// the function and the event id through the runtime's line writer, and the access log's line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kubefn/function.hpp"
#include "kubefn/telemetry/json_log.hpp"

namespace kubefn::runtime {

// The Logger a handler gets: lines tagged with the function and the event id.
class FunctionLogger : public Logger {
 public:
  FunctionLogger(telemetry::LineWriter& out, std::string_view function, std::string_view event_id)
      : out_(out), function_(function), event_id_(event_id) {}
  void write(LogLevel level, std::string_view message) override;

 private:
  telemetry::LineWriter& out_;
  std::string_view function_;
  std::string_view event_id_;
};

// One access-log line (JSON, newline-terminated): a call or a refused request of `function`.
// An empty event id is left out.
std::string access_line(std::string_view function, std::string_view method, std::string_view path,
                        int status, std::size_t bytes_in, std::size_t bytes_out,
                        std::int64_t duration_ns, std::string_view event_id);

}  // namespace kubefn::runtime
