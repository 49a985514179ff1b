// Serialization of response heads, and whole small responses a server writes itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubefn/http/status_text.hpp"

namespace kubefn::http {

// The current time as an IMF-fixdate (RFC 9110), cached per thread per second.
std::string_view http_date();

// Appends a complete response head to `out`. Handler headers that the server owns
// (content-length, transfer-encoding, connection, date) are dropped. A status without
// content (status_has_body) gets no content-length: a 204 must not have one, and the length
// a 304 could name (the 200's) is unknown here.
void append_response_head(std::string& out, int status, std::size_t content_length,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          bool close, bool http10_keep_alive);

// A whole small response (errors, health endpoints).
std::string simple_response(int status, std::string_view content_type, std::string_view body,
                            bool close, bool http10_keep_alive = false);

}  // namespace kubefn::http
