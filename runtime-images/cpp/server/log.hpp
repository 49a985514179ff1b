// The Logger a handler gets (Context::log()): JSON lines tagged with the function and the
// event id, through the runtime's line writer.
#pragma once

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

}  // namespace kubefn::runtime
