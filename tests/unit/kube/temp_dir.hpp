#pragma once

#include <string>
#include <string_view>

#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::kube::testing {

using ::kubefn::testing::TempDir;

std::string base64_encode(std::string_view data);

}  // namespace kubefn::kube::testing
