// The CLI's manifest reading: multi-document YAML, each Function then checked as `kubefn apply`
// does. Any input gets the objects or a Status that says what is wrong, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "kubefn/cli/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto manifests = kubefn::cli::parse_manifests(yaml, "fuzz.yaml");
  if (!manifests.ok()) {
    if (manifests.status().message().empty()) std::abort();
    return 0;
  }
  for (auto& m : *manifests) {
    auto status = kubefn::cli::check_function(m, "default");
    if (!status.ok() && status.message().empty()) std::abort();
  }
  return 0;
}
