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

// Appends a complete response head to `out`. Handler headers that the runtime owns
// (content-length, transfer-encoding, connection, date) are dropped.
void append_response_head(std::string& out, int status, std::size_t content_length,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          bool close, bool http10_keep_alive);

// A whole small response the runtime writes itself (errors, health endpoints).
std::string simple_response(int status, std::string_view content_type, std::string_view body,
                            bool close, bool http10_keep_alive = false);

}  // namespace kubefn::runtime
