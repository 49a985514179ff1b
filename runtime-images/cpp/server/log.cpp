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

std::string access_line(std::string_view function, std::string_view method, std::string_view path,
                        int status, std::size_t bytes_in, std::size_t bytes_out,
                        std::int64_t duration_ns, std::string_view event_id) {
  std::string line;
  line.reserve(192 + path.size());
  line += "{\"ts\":\"";
  line += telemetry::rfc3339_now();
  line += "\",\"level\":\"info\",\"msg\":\"request\",\"function\":";
  telemetry::append_json_string(line, function);
  line += ",\"method\":";
  telemetry::append_json_string(line, method);
  line += ",\"path\":";
  telemetry::append_json_string(line, path);
  line += ",\"status\":";
  line += std::to_string(status);
  line += ",\"bytes_in\":";
  line += std::to_string(bytes_in);
  line += ",\"bytes_out\":";
  line += std::to_string(bytes_out);
  line += ",\"duration_us\":";
  line += std::to_string(duration_ns / 1000);
  if (!event_id.empty()) {
    line += ",\"event_id\":";
    telemetry::append_json_string(line, event_id);
  }
  line += "}\n";
  return line;
}

}  // namespace kubefn::runtime
