// kubefn list (ls): the Functions of a namespace, or of all, as a table or as objects.
#include "command.hpp"
#include "kubefn/cli/functions.hpp"
#include "kubefn/cli/table.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

int cmd_list(Io& io, const Globals& g, Session& session, bool all) {
  if (!session.connect()) return kExitError;
  const std::string ns = all ? "" : session.ns();
  auto items = list_functions(session, ns);
  if (!items.ok()) return fail(io, session.explain(items.status(), "listing functions"));
  for (auto& item : *items) {
    item["apiVersion"] = "kubefn.dev/v1alpha1";
    item["kind"] = "Function";
  }
  if (!output_is(g, "table")) {
    print_objects(io, g, *items, true);
    return kExitOk;
  }
  if (items->empty()) {
    io.err << (all ? std::string("No functions found.")
                   : "No functions found in namespace " + ns + ".")
           << "\n";
    return kExitOk;
  }
  const auto now = std::chrono::system_clock::now();
  std::vector<std::vector<std::string>> rows;
  for (const auto& item : *items)
    rows.push_back(list_row(item, all, now));
  io.out << format_table(list_header(all), rows);
  return kExitOk;
}

}  // namespace kubefn::cli::commands
