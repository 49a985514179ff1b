#include "kubefn/delivery/event.hpp"

#include <cstdio>
#include <ctime>

namespace kubefn::delivery {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

HeaderList event_headers(const Event& event, int attempt) {
  const std::string time = rfc3339(event.time);
  HeaderList h;
  h.reserve(14);
  h.emplace_back("ce-specversion", "1.0");
  h.emplace_back("ce-id", event.id);
  h.emplace_back("ce-source", event.source);
  h.emplace_back("ce-type", event.type);
  h.emplace_back("ce-time", time);
  if (!event.subject.empty()) h.emplace_back("ce-subject", event.subject);
  h.emplace_back("event-id", event.id);
  // Kubeless's event-type is the body's media type.
  h.emplace_back("event-type", event.content_type);
  h.emplace_back("event-time", time);
  h.emplace_back("event-namespace", event.kubeless_namespace);
  if (!event.content_type.empty()) h.emplace_back("content-type", event.content_type);
  if (!event.trigger.empty()) h.emplace_back("kubefn-trigger", event.trigger);
  h.emplace_back("kubefn-delivery-attempt", std::to_string(attempt));
  return h;
}

}  // namespace kubefn::delivery
