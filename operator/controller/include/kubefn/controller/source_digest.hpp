// The digest that names a Function's source, the same on every platform: equal digests build
// equal artifacts, so an unchanged source is never built again.
#pragma once

#include <string>

#include "kubefn/controller/function_spec.hpp"

namespace kubefn::controller {

// Hex SHA-256 of `data`.
std::string sha256_hex(const std::string& data);

// What the build depends on (source bytes, handler, runtime, dependencies), hashed.
std::string source_digest(const FunctionSpec& spec, const std::string& source_text);

}  // namespace kubefn::controller
