// Status codes: their reason phrases and whether a response with one carries content.
#pragma once

#include <string_view>

namespace kubefn::http {

// The reason phrase of RFC 9110 section 15 ("Status" for a code it does not name).
std::string_view reason_phrase(int status);

// Whether a response with this status may carry content: not 1xx, 204 or 304 (RFC 9110
// sections 6.4.1 and 15).
bool status_has_body(int status);

}  // namespace kubefn::http
