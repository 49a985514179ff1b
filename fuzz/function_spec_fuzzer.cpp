// The operator's Function validation, fed JSON: whatever the object, an answer (a spec or a
// SpecError with a reason and a message), never an exception or a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>
#include <variant>

#include "kubefn/controller/function_spec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  nlohmann::json object = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return 0;
  auto parsed = kubefn::controller::parse_function(object);
  if (const auto* error = std::get_if<kubefn::controller::SpecError>(&parsed)) {
    if (error->reason.empty() || error->message.empty()) std::abort();
  }
  return 0;
}
