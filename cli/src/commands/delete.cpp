// kubefn delete: Functions by name or by manifest, then --wait until they are gone.
#include <thread>

#include "command.hpp"
#include "kubefn/cli/manifest.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

int cmd_delete(Io& io, const Globals&, Session& session, const DeleteOptions& o) {
  if (o.names.empty() && o.files.empty()) {
    return fail(io, "delete needs function names or -f FILE", kExitUsage);
  }
  if (!session.resolve()) return kExitError;
  std::vector<std::pair<std::string, std::string>> targets;
  for (const auto& name : o.names)
    targets.emplace_back(session.ns(), name);
  for (const auto& file : o.files) {
    auto read = read_manifests(file, io.in);
    if (!read.ok()) return fail(io, read.status().message());
    for (auto& m : *read) {
      auto checked = check_function(m, session.ns());
      if (!checked.ok()) return fail(io, checked.message());
      targets.emplace_back(m.object["metadata"]["namespace"], m.object["metadata"]["name"]);
    }
  }
  if (!session.connect()) return kExitError;
  int code = kExitOk;
  std::vector<std::pair<std::string, std::string>> deleted;
  for (const auto& [ns, name] : targets) {
    auto removed = session.client().remove(function_ref(ns, name), {});
    if (!removed.ok()) {
      if (removed.status().is_not_found() &&
          removed.status().message().find("could not find") == std::string::npos) {
        code = fail(io, "function " + ns + "/" + name + " not found: kubefn list -n " + ns);
      } else {
        code = fail(io, session.explain(removed.status(), "deleting " + ns + "/" + name));
      }
      continue;
    }
    io.out << qualified(name) << " deleted\n";
    deleted.emplace_back(ns, name);
  }
  io.out.flush();
  if (o.wait) {
    const auto deadline = Clock::now() + std::chrono::seconds(o.timeout_seconds);
    for (const auto& [ns, name] : deleted) {
      for (;;) {
        auto got = session.client().get(function_ref(ns, name));
        if (!got.ok() && got.status().is_not_found()) break;
        if (Clock::now() >= deadline) {
          code =
              fail(io, "timed out waiting for " + ns + "/" + name +
                           " to go (finalizers pending?): kubefn describe " + name + " -n " + ns);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
    }
  }
  return code;
}

}  // namespace kubefn::cli::commands
