// Opens the function's shared object and finds the handler KUBEFN_HANDLER exported.
#pragma once

#include <string>
#include <variant>

#include "kubefn/function.hpp"

namespace kubefn::runtime {

struct LoadedFunction {
  void* library = nullptr;  // kept open for the life of the process
  const HandlerEntry* entry = nullptr;
};

struct LoadError {
  std::string message;
};

std::variant<LoadedFunction, LoadError> load_function(const std::string& library_path,
                                                      const std::string& handler);

}  // namespace kubefn::runtime
