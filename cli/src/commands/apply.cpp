// kubefn apply (deploy): manifests to server-side applied Functions, then --wait for them.
#include <unistd.h>

#include <thread>

#include "command.hpp"
#include "kubefn/cli/functions.hpp"
#include "kubefn/cli/manifest.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

namespace {

bool stderr_is_tty() {
  return ::isatty(STDERR_FILENO) == 1;
}

// Watches one Function until it is ready, failed or `timeout` after `start` (shared by every
// Function of one apply).
int wait_ready(Io& io, Session& session, const std::string& ns, const std::string& name,
               Clock::time_point start, std::chrono::seconds timeout) {
  const bool tty = stderr_is_tty();
  std::string last_line;
  for (;;) {
    auto got = session.client().get(function_ref(ns, name));
    const long elapsed =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
    if (!got.ok() && !got.status().is_not_found()) {
      if (tty && !last_line.empty()) io.err << "\n";
      return fail(io, session.explain(got.status(), "waiting for " + ns + "/" + name));
    }
    Readiness r = got.ok() ? readiness(*got) : Readiness{Progress::kWaiting, "", "", "not found"};
    const std::string line = name + ": " + r.summary;
    if (tty) {
      io.err << "\r\033[K" << line << " " << elapsed << "s" << std::flush;
    } else if (line != last_line) {
      io.err << line << "\n";
    }
    last_line = line;
    if (r.progress != Progress::kWaiting) {
      if (tty) io.err << "\n";
      if (r.progress == Progress::kReady) {
        io.out << qualified(name) << " ready\n";
        return kExitOk;
      }
      return fail(io, "function " + ns + "/" + name + " failed: " + r.reason + ": " + r.message);
    }
    if (Clock::now() - start >= timeout) {
      if (tty) io.err << "\n";
      return fail(io, "timed out after " + std::to_string(timeout.count()) + "s waiting for " + ns +
                          "/" + name + " (" + r.summary + "): kubefn describe " + name + " -n " +
                          ns);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// What apply sends: only what the user declares, so server-side apply tracks exactly that.
json applied_fields(const json& object) {
  json out = {{"apiVersion", object.value("apiVersion", "")},
              {"kind", object.value("kind", "")},
              {"metadata", json::object()}};
  const json& meta = object["metadata"];
  for (const char* key : {"name", "namespace", "labels", "annotations"}) {
    if (meta.contains(key)) out["metadata"][key] = meta[key];
  }
  if (object.contains("spec")) out["spec"] = object["spec"];
  return out;
}

json comparable(const json& object) {
  json out = json::object();
  if (object.contains("spec")) out["spec"] = object["spec"];
  const json meta = object.value("metadata", json::object());
  out["labels"] = meta.value("labels", json::object());
  out["annotations"] = meta.value("annotations", json::object());
  return out;
}

}  // namespace

int cmd_apply(Io& io, const Globals& g, Session& session, const ApplyOptions& o) {
  if (o.files.empty()) return fail(io, "apply needs -f FILE, -f DIR or -f -", kExitUsage);
  if (!session.resolve()) return kExitError;
  std::vector<ManifestObject> manifests;
  for (const auto& file : o.files) {
    auto read = read_manifests(file, io.in, o.recursive);
    if (!read.ok()) return fail(io, read.status().message());
    for (auto& m : *read)
      manifests.push_back(std::move(m));
  }
  if (manifests.empty()) return fail(io, "no objects in " + o.files.front());
  for (auto& m : manifests) {
    auto checked = check_function(m, session.ns());
    if (!checked.ok()) return fail(io, checked.message());
  }
  if (!session.connect()) return kExitError;
  int code = kExitOk;
  std::vector<json> results;
  std::vector<std::pair<std::string, std::string>> applied;
  for (const auto& m : manifests) {
    const json& object = m.object;
    const std::string name = object["metadata"]["name"];
    const std::string ns = object["metadata"]["namespace"];
    const auto ref = function_ref(ns, name);
    auto before = session.client().get(ref);
    if (!before.ok() && !before.status().is_not_found()) {
      code = fail(io, session.explain(before.status(), "reading " + ns + "/" + name));
      continue;
    }
    kube::PatchOptions options;
    options.field_manager = "kubefn";
    options.force = o.force_conflicts;
    auto after =
        session.client().patch(ref, kube::PatchType::kApply, applied_fields(object), options);
    if (!after.ok()) {
      std::string text = session.explain(after.status(), "applying " + ns + "/" + name);
      if (after.status().is_conflict()) {
        text += " (another manager owns these fields: pass --force-conflicts to take them)";
      }
      code = fail(io, text);
      continue;
    }
    const char* verb = !before.ok()                                ? "created"
                       : comparable(*before) == comparable(*after) ? "unchanged"
                                                                   : "configured";
    if (output_is(g, "table")) io.out << qualified(name) << " " << verb << "\n";
    results.push_back(*after);
    applied.emplace_back(ns, name);
  }
  if (!output_is(g, "table") && !results.empty()) print_objects(io, g, results, false);
  io.out.flush();
  if (o.wait) {
    const auto start = Clock::now();
    for (const auto& [ns, name] : applied) {
      int waited =
          wait_ready(io, session, ns, name, start, std::chrono::seconds(o.timeout_seconds));
      if (waited != kExitOk) code = waited;
    }
  }
  return code;
}

}  // namespace kubefn::cli::commands
