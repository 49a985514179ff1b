#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "kubefn/kube/result.hpp"

namespace kubefn::kube {

// Whole contents of a file, or a kInvalidConfig Status naming it and `what` it was for.
Result<std::string> read_file_text(const std::filesystem::path& path, std::string_view what);

// Strict standard base64 (padding optional, whitespace ignored); nullopt-like error otherwise.
Result<std::string> decode_base64(std::string_view text, std::string_view what);

// Drops surrounding whitespace (token files usually end with a newline).
std::string trim(std::string_view text);

}  // namespace kubefn::kube
