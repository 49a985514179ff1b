// Calls a handler and turns whatever it does (returns, throws) into a response.
#pragma once

#include <string>

#include "kubefn/function.hpp"

namespace kubefn::runtime {

struct InvokeResult {
  Response response;
  bool failed = false;       // threw, or returned something the runtime cannot send
  std::string error_detail;  // for the function's log only, never for the caller
};

InvokeResult invoke_handler(HandlerFn fn, const Event& event, Context& context);

// Why a handler's response cannot be sent as is, or empty when it can.
std::string validate_response(const Response& response);

}  // namespace kubefn::runtime
