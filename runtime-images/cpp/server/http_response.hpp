// Serialization of response heads.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kubefn::runtime {

std::string_view reason_phrase(int status);

// The current time as an IMF-fixdate (RFC 9110), cached per thread per second.
std::string_view http_date();

// Whether a response with this status may carry content: not 1xx, 204 or 304 (RFC 9110
// sections 6.4.1 and 15).
bool status_has_body(int status);

// Appends a complete response head to `out`. Handler headers that the runtime owns
// (content-length, transfer-encoding, connection, date) are dropped. A status without
// content (status_has_body) gets no content-length: a 204 must not have one, and the length
// a 304 could name (the 200's) is unknown here.
void append_response_head(std::string& out, int status, std::size_t content_length,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          bool close, bool http10_keep_alive);

// A whole small response the runtime writes itself (errors, health endpoints).
std::string simple_response(int status, std::string_view content_type, std::string_view body,
                            bool close, bool http10_keep_alive = false);

}  // namespace kubefn::runtime
