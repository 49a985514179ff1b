#include "kubefn/delivery/outcome.hpp"

namespace kubefn::delivery {

Verdict classify(const CallResult& r) {
  if (r.status >= 200 && r.status < 300) return Verdict::kDelivered;
  if (r.status == 429 || (r.status == 503 && r.retry_after.has_value())) {
    return Verdict::kThrottled;
  }
  return Verdict::kFailed;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::kDelivered:
      return "delivered";
    case Verdict::kThrottled:
      return "throttled";
    case Verdict::kFailed:
      return "failed";
  }
  return "failed";
}

}  // namespace kubefn::delivery
