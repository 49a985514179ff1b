#pragma once

#include <string>

#include "kubefn/kube/result.hpp"

namespace kubefn::builder {

// The bytes of an ELF file for an image (image_build.cpp): with `strip_debug`, those of a copy
// without debug sections. `what` ("the runtime ") prefixes the path in errors.
kube::Status read_binary(const std::string& path, bool strip_debug, const std::string& what,
                         std::string& out);

}  // namespace kubefn::builder
