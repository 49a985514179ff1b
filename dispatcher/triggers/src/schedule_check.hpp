#pragma once

#include <string>

namespace kubefn::triggers::detail {

// Empty when `schedule` in `time_zone` is a schedule that fires; else what to fix.
std::string check_schedule(const std::string& schedule, const std::string& time_zone);

}  // namespace kubefn::triggers::detail
