// Whether a live object already is what the platform wants of it.
#pragma once

#include <nlohmann/json.hpp>

namespace kubefn::platform::kubernetes {

// True when every field set in `desired` has the same value in `live` (objects compared
// key by key, arrays element by element and of equal length). Fields the server added to
// `live` are ignored, so a defaulted object still matches what we asked for.
bool is_subset(const nlohmann::json& desired, const nlohmann::json& live);

}  // namespace kubefn::platform::kubernetes
