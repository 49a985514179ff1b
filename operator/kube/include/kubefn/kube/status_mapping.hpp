#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "kubefn/kube/status.hpp"

namespace kubefn::kube {

// Turns a failed API reply into a Status. The body is read as a metav1.Status when it is one;
// the reason it carries wins over the HTTP code, which is the fallback.
Status status_from_response(int http_status, std::string_view body,
                            std::optional<std::chrono::seconds> retry_after = std::nullopt);

// Maps a metav1.Status reason ("NotFound", "Expired", ...) to a code; kUnknown if unknown.
StatusCode status_code_from_reason(std::string_view reason);

// Maps an HTTP status to a code when no reason is available.
StatusCode status_code_from_http(int http_status);

}  // namespace kubefn::kube
