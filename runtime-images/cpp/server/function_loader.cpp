#include "function_loader.hpp"

#include <dlfcn.h>

namespace kubefn::runtime {

std::variant<LoadedFunction, LoadError> load_function(const std::string& library_path,
                                                      const std::string& handler) {
  // RTLD_NOW: an unresolved symbol fails here, at start, not in the middle of a request.
  void* lib = dlopen(library_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    return LoadError{"cannot load function library " + library_path + ": " +
                     (err != nullptr ? err : "unknown error")};
  }
  std::string symbol = "kubefn_handler_" + handler;
  dlerror();
  void* sym = dlsym(lib, symbol.c_str());
  if (sym == nullptr) {
    dlclose(lib);
    return LoadError{"handler \"" + handler + "\" not found in " + library_path +
                     ": declare it in the function source with KUBEFN_HANDLER(" + handler + ")"};
  }
  const auto* entry = static_cast<const HandlerEntry*>(sym);
  if (entry->abi_version != kAbiVersion || entry->fn == nullptr) {
    std::string got = std::to_string(entry->abi_version);
    dlclose(lib);
    return LoadError{"function library " + library_path + " was built against SDK ABI " + got +
                     " but this runtime speaks ABI " + std::to_string(kAbiVersion) +
                     ": rebuild the function with this runtime's SDK"};
  }
  return LoadedFunction{lib, entry};
}

}  // namespace kubefn::runtime
