// The helpers of command.hpp that every command uses.
#include <algorithm>

#include "command.hpp"
#include "kubefn/api/function.hpp"
#include "kubefn/cli/manifest.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

int fail(Io& io, const std::string& message, int code) {
  io.err << "error: " << message << "\n";
  return code;
}

bool function_crd_missing(const kube::Status& status) {
  return status.is_not_found() &&
         (status.reason().empty() ||
          status.message().find("could not find the requested resource") != std::string::npos);
}

bool output_is(const Globals& g, const char* what) {
  return g.output == what;
}

void print_objects(Io& io, const Globals& g, std::vector<json> objects, bool as_list) {
  // Like kubectl, leave out the field managers' bookkeeping.
  for (auto& object : objects) {
    if (object.contains("metadata") && object["metadata"].is_object()) {
      object["metadata"].erase("managedFields");
    }
  }
  json value = objects.size() == 1 && !as_list ? objects.front() : json::object();
  if (objects.size() != 1 || as_list) {
    value = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", objects}};
  }
  if (output_is(g, "json")) {
    io.out << value.dump(2) << "\n";
  } else {
    io.out << to_yaml(value);
  }
}

std::string qualified(const std::string& name) {
  return "function.kubefn.dev/" + name;
}

kube::ObjectRef function_ref(const std::string& ns, const std::string& name) {
  return {api::functions(), ns, name};
}

kube::Result<std::vector<json>> list_functions(Session& session, const std::string& ns) {
  std::vector<json> items;
  kube::ListOptions options;
  options.limit = 500;
  for (;;) {
    auto page = session.client().list(api::functions(), ns, options);
    if (!page.ok()) return page.status();
    for (auto& item : page->items)
      items.push_back(std::move(item));
    if (page->continue_token.empty()) break;
    options.continue_token = page->continue_token;
  }
  std::sort(items.begin(), items.end(),
            [](const json& a, const json& b) { return kube::object_key(a) < kube::object_key(b); });
  return items;
}

}  // namespace kubefn::cli::commands
