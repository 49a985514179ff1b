#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  nlohmann::json object;  // the object; a metav1.Status for kError
};

std::string_view to_string(WatchEvent::Type type);

// Parses one line of a watch stream ({"type":...,"object":...}).
Result<WatchEvent> parse_watch_event(std::string_view line);

// An open watch. next() blocks until an event arrives, the server ends the stream cleanly
// (nullopt) or the stream fails (a Status). Destroying the stream cancels it.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual Result<std::optional<WatchEvent>> next() = 0;
  // Safe to call from another thread; makes a blocked next() return kCancelled.
  virtual void cancel() = 0;
};

}  // namespace kubefn::kube
