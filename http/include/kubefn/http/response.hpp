// Serialization of response heads, and whole small responses a server writes itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubefn/http/status_text.hpp"

namespace kubefn::http {

// The current time as an IMF-fixdate (RFC 9110), cached per thread per second.
std::string_view http_date();

// The runtime's measure of a call's execution (its handler's wall time) in whole nanoseconds,
// on the replica's answer to the gateway, which bills it and does not pass it on. Handlers
// cannot set it.
inline constexpr std::string_view kExecutionHeader = "kubefn-execution-ns";

// Appends a complete response head to `out`. Handler headers that the server owns
// (content-length, transfer-encoding, connection, date, kExecutionHeader) are dropped. A
// status without content (status_has_body) gets no content-length: a 204 must not have one,
// and the length a 304 could name (the 200's) is unknown here. `execution_ns` >= 0 adds
// kExecutionHeader with that value.
void append_response_head(std::string& out, int status, std::size_t content_length,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          bool close, bool http10_keep_alive, std::int64_t execution_ns = -1);

// A whole small response (errors, health endpoints).
std::string simple_response(int status, std::string_view content_type, std::string_view body,
                            bool close, bool http10_keep_alive = false);

}  // namespace kubefn::http
