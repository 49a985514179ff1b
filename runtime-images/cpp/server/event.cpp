#include "event.hpp"

#include "kubefn/http/event_id.hpp"
#include "kubefn/telemetry/json_log.hpp"

namespace kubefn::runtime {

void event_from_request(const http::HttpRequest& req, GeneratedEventFields& generated,
                        Event& event) {
  event = Event{};
  event.data = req.body;
  event.method = req.method;
  event.path = req.path;
  event.query = req.query;
  event.headers = std::span<const Header>(req.headers.data(), req.headers.size());
  for (const Header& h : req.headers) {
    if (h.name == "content-type") {
      event.content_type = h.value;
    } else if (h.name.size() > 6 && h.name.substr(0, 6) == "event-") {
      std::string_view k = h.name.substr(6);
      if (k == "id")
        event.event_id = h.value;
      else if (k == "type")
        event.event_type = h.value;
      else if (k == "time")
        event.event_time = h.value;
      else if (k == "namespace")
        event.event_namespace = h.value;
    } else if (h.name.size() > 3 && h.name.substr(0, 3) == "ce-") {
      std::string_view k = h.name.substr(3);
      CloudEvent& ce = event.cloud_event;
      if (k == "id")
        ce.id = h.value;
      else if (k == "source")
        ce.source = h.value;
      else if (k == "type")
        ce.type = h.value;
      else if (k == "specversion")
        ce.specversion = h.value;
      else if (k == "time")
        ce.time = h.value;
      else if (k == "subject")
        ce.subject = h.value;
    }
  }
  if (event.event_id.empty()) {
    generated.id = http::make_event_id();
    event.event_id = generated.id;
  }
  if (event.event_time.empty()) {
    generated.time = telemetry::rfc3339_now();
    event.event_time = generated.time;
  }
  if (event.event_type.empty()) event.event_type = event.content_type;
}

}  // namespace kubefn::runtime
