// Go's time.ParseDuration, which robfig/cron reads `@every` with: an optional sign, then one or
// more <number><unit> ("1h30m", "1.5h", ".5s"), units h m s ms us (or µs/μs) ns; "0" alone is 0.
#pragma once

#include <chrono>
#include <string_view>

#include "kubefn/schedule/result.hpp"

namespace kubefn::schedule {

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

}  // namespace kubefn::schedule
