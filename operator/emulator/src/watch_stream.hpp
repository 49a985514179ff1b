#pragma once

// One watch request: synthetic ADDED events or replay from a resourceVersion, selector
// transitions (an object that starts matching is ADDED, one that stops matching is DELETED),
// bookmarks, timeoutSeconds, and ERROR 410 when the history is gone.

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "object_store.hpp"
#include "resource_types.hpp"
#include "selectors.hpp"

namespace kubefn::emulator {

struct WatchParams {
  std::string ns;
  LabelSelector labels;
  FieldSelector fields;
  std::string resource_version;
  bool send_initial_events = false;
  bool bookmarks = false;
  std::chrono::milliseconds bookmark_interval{1000};
  std::chrono::seconds timeout{1800};
  bool as_table = false;
  std::string include_object = "Metadata";
};

class WatchStream {
 public:
  WatchStream(ObjectStore& store, ResourceType type, WatchParams params,
              std::atomic<std::size_t>& open_counter);
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // The next event line (JSON plus '\n'); nullopt when the stream is over. `client_alive` is
  // polled while idle so an abandoned watch ends.
  std::optional<std::string> next(const std::function<bool()>& client_alive);

 private:
  void start();
  // With `serialized` (the object's dump), the line is built from it when the object is sent
  // unchanged.
  void push(const std::string& type, const nlohmann::json& object,
            const SerializedDocument* serialized = nullptr);
  void push_bookmark(uint64_t rv, bool initial_end);
  bool matches(const nlohmann::json& object) const;
  void convert(const WatchEvent& e);

  ObjectStore& store_;
  ResourceType type_;
  WatchParams params_;
  std::atomic<std::size_t>& open_counter_;
  std::deque<std::string> pending_;
  bool done_ = false;
  bool columns_sent_ = false;
  uint64_t after_rv_ = 0;
  uint64_t epoch_ = 0;
  std::chrono::steady_clock::time_point end_;
  std::chrono::steady_clock::time_point next_bookmark_;
};

}  // namespace kubefn::emulator
