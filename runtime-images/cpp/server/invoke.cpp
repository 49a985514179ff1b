#include "invoke.hpp"

#include <exception>

#include "kubefn/http/request_parser.hpp"

namespace kubefn::runtime {
namespace {

Response internal_error() {
  return Response::text("Internal Server Error: the function failed; see its logs\n", 500);
}

// Why `name` cannot be a field name, or nullptr when it can.
const char* invalid_name(std::string_view name) {
  if (name.empty()) return "the name is empty";
  for (char c : name) {
    if (!http::is_tchar(c)) return "the name has a character a header name cannot have";
  }
  return nullptr;
}

// Why `value` cannot be a field value (RFC 9110 section 5.5: no control character but
// HTAB; CR and LF would end the header), or nullptr when it can.
const char* invalid_value(std::string_view value) {
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n') return "the value has CR or LF";
    if (u == 0) return "the value has a NUL";
    if ((u < 0x20 && c != '\t') || u == 0x7f) return "the value has a control character";
  }
  return nullptr;
}

}  // namespace

std::string validate_response(const Response& response) {
  if (response.status < 200 || response.status > 599) {
    return "the function returned HTTP status " + std::to_string(response.status) +
           ", outside 200-599";
  }
  for (const auto& [name, value] : response.headers) {
    const char* why = invalid_name(name);
    if (why == nullptr) why = invalid_value(value);
    if (why != nullptr) {
      // The log line is JSON, so any byte of the name is safe to show.
      return "the function set an invalid response header \"" + name + "\": " + why;
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
