// What an answer means for an event: delivered (acknowledge it), throttled (the platform is at
// capacity: wait and send again without spending a retry), or failed (retry, then dead-letter).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace kubefn::delivery {

enum class Verdict { kDelivered, kThrottled, kFailed };

struct CallResult {
  int status = 0;      // 0: no answer (connection refused or reset, timed out)
  std::string reason;  // why, in words: the transport error or the answer's first line of body
  std::optional<std::chrono::milliseconds> retry_after;  // from Retry-After (seconds)
  // The answer's body and Content-Type (FunctionCaller::send keeps them; call() does not).
  std::string content_type{};
  std::string body{};
};

// 2xx: delivered. 429, and 503 with Retry-After (what the gateway answers when the function's
// replicas and queue are full or none is ready in time): throttled. Anything else, no answer
// included: failed.
Verdict classify(const CallResult& r);

const char* to_string(Verdict v);

}  // namespace kubefn::delivery
