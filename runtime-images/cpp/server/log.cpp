#include "log.hpp"

namespace kubefn::runtime {

void FunctionLogger::write(LogLevel level, std::string_view message) {
  static constexpr std::string_view kLevels[] = {"debug", "info", "warn", "error"};
  std::string extra = ",\"function\":";
  telemetry::append_json_string(extra, function_);
  extra += ",\"event_id\":";
  telemetry::append_json_string(extra, event_id_);
  telemetry::log_event(out_, kLevels[static_cast<int>(level)], message, extra);
}

}  // namespace kubefn::runtime
