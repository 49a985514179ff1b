#include "kubefn/testing/fakes/recording_events.hpp"

namespace kubefn::testing {

void RecordingEvents::record(const nlohmann::json& object, const std::string& type,
                             const std::string& reason, const std::string& message) {
  const nlohmann::json meta = object.value("metadata", nlohmann::json::object());
  std::lock_guard<std::mutex> lock(mu_);
  events_.push_back({meta.value("namespace", ""), meta.value("name", ""), type, reason, message});
}

std::vector<RecordedEvent> RecordingEvents::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

std::size_t RecordingEvents::count(const std::string& reason) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = 0;
  for (const auto& e : events_) {
    if (e.reason == reason) ++n;
  }
  return n;
}

std::vector<std::string> RecordingEvents::summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& e : events_)
    out.push_back(e.type + " " + e.reason);
  return out;
}

void RecordingEvents::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  events_.clear();
}

}  // namespace kubefn::testing
