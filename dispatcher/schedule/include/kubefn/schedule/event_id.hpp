// The id of one scheduled run, the same wherever and however often it is computed: after a
// restart or a change of leader the same run gets the same id, so a consumer can drop repeats.
#pragma once

#include <string>
#include <string_view>

#include "kubefn/schedule/zone_info.hpp"

namespace kubefn::schedule {

// `<digest>-<unix seconds of the scheduled time>`, e.g. "9b1f0c3e5a7d2e41-1774751400": the
// digest is FNV-1a 64 (16 lowercase hex digits) of the namespace, function and trigger names,
// each written as `<decimal byte length>:<bytes>`, one after the other.
std::string run_event_id(std::string_view ns, std::string_view function, std::string_view trigger,
                         Instant scheduled);

}  // namespace kubefn::schedule
