// Event ids for calls that arrive without one (Kubeless's event-id, CloudEvents' ce-id).
#pragma once

#include <string>

namespace kubefn::http {

std::string make_event_id();  // a random event id: 16 hex digits

}  // namespace kubefn::http
