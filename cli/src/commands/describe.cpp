// kubefn describe: a Function, its conditions and its latest events.
#include <algorithm>

#include "command.hpp"
#include "kubefn/cli/functions.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

int cmd_describe(Io& io, const Globals& g, Session& session, const std::string& name) {
  if (!session.connect()) return kExitError;
  const std::string ns = session.ns();
  auto got = session.client().get(function_ref(ns, name));
  if (!got.ok()) {
    if (got.status().is_not_found() && !function_crd_missing(got.status())) {
      return fail(io, "function " + ns + "/" + name + " not found: kubefn list -n " + ns);
    }
    return fail(io, session.explain(got.status(), "reading " + ns + "/" + name));
  }
  if (!output_is(g, "table")) {
    print_objects(io, g, {*got}, false);
    return kExitOk;
  }
  std::vector<json> events;
  kube::ListOptions options;
  options.field_selector = "involvedObject.name=" + name;
  auto listed = session.client().list(kube::resources::events(), ns, options);
  if (listed.ok()) {
    for (auto& e : listed->items) {
      const std::string kind = e.contains("involvedObject") && e["involvedObject"].is_object()
                                   ? e["involvedObject"].value("kind", "")
                                   : "";
      if (kind.empty() || kind == "Function") events.push_back(std::move(e));
    }
  }
  auto when = [](const json& e) {
    std::string t =
        e.value("lastTimestamp", json()).is_string() ? e.value("lastTimestamp", "") : "";
    if (t.empty() && e.value("eventTime", json()).is_string()) t = e.value("eventTime", "");
    if (t.empty() && e.contains("metadata")) t = e["metadata"].value("creationTimestamp", "");
    return t;
  };
  std::stable_sort(events.begin(), events.end(),
                   [&](const json& a, const json& b) { return when(a) < when(b); });
  if (events.size() > 20) events.erase(events.begin(), events.end() - 20);
  io.out << describe_text(*got, events, std::chrono::system_clock::now());
  if (!listed.ok()) io.err << "warning: events unavailable: " << listed.status().message() << "\n";
  return kExitOk;
}

}  // namespace kubefn::cli::commands
