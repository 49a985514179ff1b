// The event a handler gets, from a parsed request: the request's parts, and the event fields
// from the event-* headers (event-id, event-type, event-time, event-namespace).
#pragma once

#include <string>

#include "kubefn/function.hpp"
#include "kubefn/http/request_parser.hpp"

namespace kubefn::runtime {

// What the runtime makes up for a call that did not send it; the event's views point here.
struct GeneratedEventFields {
  std::string id;
  std::string time;
};

// Sets every field of `event` from `req`: views into the request (and into `generated`, for an
// event id or time the caller did not send), valid while both are. The event type defaults to
// the content type. Fills in place: the event is the connection's, reused call after call.
void event_from_request(const http::HttpRequest& req, GeneratedEventFields& generated,
                        Event& event);

}  // namespace kubefn::runtime
