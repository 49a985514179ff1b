#include <string>

#include "kubefn/kube/watch_stream.hpp"

namespace kubefn::kube {

std::string_view to_string(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

Result<WatchEvent> parse_watch_event(std::string_view line) {
  auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string() ||
      !parsed.contains("object")) {
    return Status(StatusCode::kUnknown,
                  "malformed watch event: " + std::string(line.substr(0, 200)));
  }
  const std::string type = parsed["type"].get<std::string>();
  WatchEvent event;
  if (type == "ADDED") {
    event.type = WatchEvent::Type::kAdded;
  } else if (type == "MODIFIED") {
    event.type = WatchEvent::Type::kModified;
  } else if (type == "DELETED") {
    event.type = WatchEvent::Type::kDeleted;
  } else if (type == "BOOKMARK") {
    event.type = WatchEvent::Type::kBookmark;
  } else if (type == "ERROR") {
    event.type = WatchEvent::Type::kError;
  } else {
    return Status(StatusCode::kUnknown, "unknown watch event type " + type);
  }
  event.object = std::move(parsed["object"]);
  return event;
}

}  // namespace kubefn::kube
