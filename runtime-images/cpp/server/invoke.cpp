#include "invoke.hpp"

#include <exception>

namespace kubefn::runtime {
namespace {

Response internal_error() {
  return Response::text("Internal Server Error: the function failed; see its logs\n", 500);
}

bool valid_header_part(std::string_view s, bool name) {
  if (name && s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || u == 0 || (name && (c == ':' || u <= 0x20 || u >= 0x7f))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string validate_response(const Response& response) {
  if (response.status < 200 || response.status > 599) {
    return "the function returned HTTP status " + std::to_string(response.status) +
           ", outside 200-599";
  }
  for (const auto& [name, value] : response.headers) {
    if (!valid_header_part(name, true) || !valid_header_part(value, false)) {
      return "the function returned an invalid header \"" + name + "\"";
    }
  }
  return {};
}

InvokeResult invoke_handler(HandlerFn fn, const Event& event, Context& context) {
  InvokeResult result;
  try {
    result.response = fn(event, context);
  } catch (const std::exception& e) {
    result.failed = true;
    result.error_detail = std::string("uncaught exception: ") + e.what();
  } catch (...) {
    result.failed = true;
    result.error_detail = "uncaught exception of a type not derived from std::exception";
  }
  if (!result.failed) {
    std::string why = validate_response(result.response);
    if (!why.empty()) {
      result.failed = true;
      result.error_detail = why;
    }
  }
  if (result.failed) result.response = internal_error();
  return result;
}

}  // namespace kubefn::runtime
