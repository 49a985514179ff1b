// An EventRecorder that keeps what it is given, for tests to look at.
#pragma once

#include <cstddef>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kubefn/controller/event_recorder.hpp"

namespace kubefn::testing {

struct RecordedEvent {
  std::string ns, name;  // of the object the Event is about
  std::string type, reason, message;
};

// Thread-safe: a controller's workers record from their own threads.
class RecordingEvents final : public controller::EventRecorder {
 public:
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason,
              const std::string& message) override;

  // Every Event so far, in the order recorded.
  std::vector<RecordedEvent> events() const;
  // Whether one, and how many, had this reason.
  bool has(const std::string& reason) const { return count(reason) > 0; }
  std::size_t count(const std::string& reason) const;
  // "Warning InvalidHandler"-style lines, type and reason, for comparing whole sequences.
  std::vector<std::string> summary() const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::vector<RecordedEvent> events_;
};

}  // namespace kubefn::testing
