#include "kubefn/cli/app.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "kubefn/api/function.hpp"
#include "kubefn/cli/functions.hpp"
#include "kubefn/cli/http.hpp"
#include "kubefn/cli/invoke.hpp"
#include "kubefn/cli/logs.hpp"
#include "kubefn/cli/manifest.hpp"
#include "kubefn/cli/prometheus.hpp"
#include "kubefn/cli/table.hpp"
#include "kubefn/cli/target.hpp"
#include "kubefn/cli/top.hpp"
#include "kubefn/kube/clock.hpp"
#include "kubefn/kube/rest_kube_client.hpp"

#ifndef KUBEFN_VERSION
#define KUBEFN_VERSION "0.0.0"
#endif

namespace kubefn::cli {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

struct Globals {
  TargetFlags flags;
  std::string output = "table";
};

// A command's failure: what to print and the exit code.
int fail(Io& io, const std::string& message, int code = kExitError) {
  io.err << "error: " << message << "\n";
  return code;
}

// A 404 that is about the resource type, not about one Function: the server has no
// kubefn.dev group at all (kube-apiserver answers a plain "404 page not found", no Status
// body, so no reason) or the group lacks the functions resource ("the server could not find
// the requested resource").
bool function_crd_missing(const kube::Status& status) {
  return status.is_not_found() &&
         (status.reason().empty() ||
          status.message().find("could not find the requested resource") != std::string::npos);
}
// The target plus a connected client, made when a command first needs them.
class Session {
 public:
  Session(const Globals& globals, Io& io) : globals_(globals), io_(io) {}

  // Prints the error and returns false when no platform can be reached.
  bool resolve(bool quiet = false) {
    if (target_) return true;
    auto target = select_target(globals_.flags, process_target_environment());
    if (!target.ok()) {
      if (!quiet) fail(io_, target.status().message());
      return false;
    }
    target_ = std::move(target).value();
    return true;
  }

  bool connect() {
    if (client_) return true;
    if (!resolve()) return false;
    kube::RestClientOptions options;
    options.user_agent = "kubefn-cli/" + version();
    options.request_timeout = std::chrono::seconds(30);
    options.retry.max_attempts = 3;
    auto client = kube::make_rest_kube_client(target_->api, clock_, options);
    if (!client.ok()) {
      fail(io_, "cannot use " + target_->described + ": " + client.status().message());
      return false;
    }
    client_ = std::move(client).value();
    return true;
  }

  const Target& target() const { return *target_; }
  kube::KubeClient& client() { return *client_; }
  const std::string& ns() const { return target_->ns; }

  // An API error in words, with what to do about it.
  std::string explain(const kube::Status& status, const std::string& what) const {
    std::string text = what + ": " + status.message();
    if (status.code() == kube::StatusCode::kNetworkError) {
      text += target_ && target_->kind == Target::Kind::kLocal
                  ? " (is `kubefn up` still running?)"
                  : " (check the cluster is reachable: kubectl cluster-info)";
    } else if (function_crd_missing(status)) {
      text += " (the Function CRD is not installed: kubectl apply -f crds/function.yaml)";
    } else if (status.is_unauthorized()) {
      text += " (check the credentials of your kubeconfig context)";
    }
    return text;
  }

 private:
  const Globals& globals_;
  Io& io_;
  kube::RealClock clock_;
  std::optional<Target> target_;
  std::unique_ptr<kube::KubeClient> client_;
};

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

struct ApplyOptions {
  std::vector<std::string> files;
  bool wait = false;
  int timeout_seconds = 300;
  bool force_conflicts = false;
  bool recursive = false;
};

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

// Every Function in `ns` ("" for all), following continue tokens.
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

struct DeleteOptions {
  std::vector<std::string> names;
  std::vector<std::string> files;
  bool wait = false;
  int timeout_seconds = 120;
};

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

struct InvokeOptions {
  std::string name;
  std::optional<std::string> data;
  std::optional<std::string> data_file;
  std::string method;
  std::vector<std::string> headers;
  std::string path;
  std::string token;
  int timeout_seconds = 300;
  bool include_headers = false;
};

int cmd_invoke(Io& io, const Globals& g, Session& session, const InvokeOptions& o) {
  InvokeArgs args;
  args.name = o.name;
  args.data = o.data;
  args.data_file = o.data_file;
  args.method = o.method;
  args.headers = o.headers;
  args.path = o.path;
  args.token = o.token;
  // With a gateway named outright no platform is needed to call it.
  std::string gateway = g.flags.gateway;
  if (gateway.empty()) {
    if (const char* env = std::getenv("KUBEFN_GATEWAY"); env != nullptr) gateway = env;
  }
  std::string ns = g.flags.ns;
  if (gateway.empty()) {
    if (!session.resolve()) return kExitError;
    gateway = session.target().gateway;
    if (ns.empty()) ns = session.ns();
  } else if (ns.empty()) {
    ns = session.resolve(/*quiet=*/true) ? session.ns() : "default";
  }
  args.gateway = gateway;
  args.ns = ns;
  if (!o.data && !o.data_file && ::isatty(STDIN_FILENO) == 0) {
    std::ostringstream buffer;
    buffer << io.in.rdbuf();
    args.stdin_data = buffer.str();
  }
  auto request = build_invoke_request(args);
  if (!request.ok()) {
    const bool usage = request.status().code() == kube::StatusCode::kBadRequest;
    return fail(io, request.status().message(), usage ? kExitUsage : kExitError);
  }
  HttpCall call;
  call.method = request->method;
  call.url = request->url;
  call.headers = request->headers;
  call.body = request->body;
  call.has_body = request->has_body;
  call.timeout = std::chrono::seconds(o.timeout_seconds);
  auto reply = http_send(call);
  if (!reply.ok()) {
    return fail(io, reply.status().message() +
                        " (is the gateway running? pass --gateway URL or set KUBEFN_GATEWAY)");
  }
  io.err << "HTTP " << reply->status << " " << reply->reason << "\n";
  if (o.include_headers) {
    for (const auto& [k, v] : reply->headers)
      io.err << k << ": " << v << "\n";
  }
  io.out << reply->body << std::flush;
  if (reply->status < 200 || reply->status > 299) {
    const std::string hint = invoke_hint(reply->status, ns, o.name);
    if (!hint.empty()) io.err << "error: " << hint << "\n";
    return kExitError;
  }
  return kExitOk;
}

struct LogsOptions {
  std::string name;
  bool follow = false;
  long tail = -1;
  bool no_prefix = false;
};

int logs_local(Io& io, Session& session, const LogsOptions& o) {
  const auto& t = session.target();
  if (t.logs_dir.empty()) return fail(io, "the local platform did not say where its logs are");
  const std::filesystem::path dir = std::filesystem::path(t.logs_dir) / t.ns / o.name;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec) && !o.follow) {
    return fail(io, "no logs for function " + t.ns + "/" + o.name +
                        " (no replica has run): " + "kubefn list -n " + t.ns);
  }
  const bool prefix = !o.no_prefix;
  for (const auto& line : read_local_logs(dir, o.tail)) {
    io.out << format_log_line(line, prefix) << "\n";
  }
  io.out.flush();
  if (!o.follow) return kExitOk;
  LocalLogFollower follower(dir);
  for (;;) {
    auto lines = follower.poll();
    for (const auto& line : lines)
      io.out << format_log_line(line, prefix) << "\n";
    if (!lines.empty()) io.out.flush();
    if (!io.out) return kExitOk;  // the reader went away
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string pod_log_url(const Target& t, const std::string& pod, const LogsOptions& o,
                        bool follow) {
  std::string server = t.api.server;
  while (!server.empty() && server.back() == '/')
    server.pop_back();
  std::string url = server + "/api/v1/namespaces/" + t.ns + "/pods/" + pod + "/log?container=";
  url += "function";
  if (o.tail >= 0) url += "&tailLines=" + std::to_string(o.tail);
  if (follow) url += "&follow=true";
  return url;
}

int logs_cluster(Io& io, Session& session, const LogsOptions& o) {
  if (!session.connect()) return kExitError;
  const Target& t = session.target();
  auto list_pods = [&]() -> kube::Result<std::vector<std::string>> {
    kube::ListOptions options;
    options.label_selector = "kubefn.dev/function=" + o.name;
    auto pods = session.client().list(kube::resources::pods(), t.ns, options);
    if (!pods.ok()) return pods.status();
    std::vector<std::string> names;
    for (const auto& p : pods->items)
      names.push_back(kube::object_name(p));
    std::sort(names.begin(), names.end());
    return names;
  };
  auto pods = list_pods();
  if (!pods.ok()) return fail(io, session.explain(pods.status(), "listing pods of " + o.name));
  if (pods->empty() && !o.follow) {
    return fail(io, "function " + t.ns + "/" + o.name +
                        " has no pods (scaled to zero, or not deployed): kubefn describe " +
                        o.name + " -n " + t.ns);
  }
  const bool prefix = !o.no_prefix;
  std::mutex out_mutex;
  auto emit_lines = [&](const std::string& pod, std::string& partial, const std::string& chunk) {
    partial += chunk;
    std::lock_guard lock(out_mutex);
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      io.out << format_log_line({pod, partial.substr(start, nl - start)}, prefix) << "\n";
    }
    partial.erase(0, start);
    io.out.flush();
  };
  if (!o.follow) {
    int code = kExitOk;
    for (const auto& pod : *pods) {
      HttpCall call;
      call.url = pod_log_url(t, pod, o, false);
      call.credentials = &t.api;
      auto reply = http_send(call);
      if (!reply.ok() || reply->status != 200) {
        code =
            fail(io, "logs of pod " + pod + ": " +
                         (reply.ok() ? "HTTP " + std::to_string(reply->status) + " " + reply->body
                                     : reply.status().message()));
        continue;
      }
      std::string partial;
      emit_lines(pod, partial, reply->body);
      if (!partial.empty()) emit_lines(pod, partial, "\n");
    }
    return code;
  }
  // Follow: one stream per pod; pods that appear later are picked up.
  std::set<std::string> streaming;
  std::vector<std::thread> threads;
  for (;;) {
    for (const auto& pod : *pods) {
      if (!streaming.insert(pod).second) continue;
      threads.emplace_back([&, pod] {
        HttpCall call;
        call.url = pod_log_url(t, pod, o, true);
        call.credentials = &t.api;
        call.timeout = std::chrono::hours(24);
        std::string partial;
        http_stream(call, [&](const std::string& chunk) {
          emit_lines(pod, partial, chunk);
          return static_cast<bool>(io.out);
        });
      });
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto again = list_pods();
    if (again.ok()) pods = std::move(again);
    if (!io.out) {
      // The reader went away. The streams block in reads that cannot be interrupted, so end
      // the process here rather than unwind under threads that still use this frame.
      std::fflush(nullptr);
      std::_Exit(kExitOk);
    }
  }
}

int cmd_logs(Io& io, const Globals&, Session& session, const LogsOptions& o) {
  if (!session.resolve()) return kExitError;
  if (session.target().kind == Target::Kind::kLocal) return logs_local(io, session, o);
  return logs_cluster(io, session, o);
}

struct TopOptions {
  double interval = 2;
  bool all = false;
  std::string metrics_url;
};

kube::Result<std::vector<Sample>> scrape(const std::string& url) {
  HttpCall call;
  call.url = url;
  call.timeout = std::chrono::seconds(10);
  auto reply = http_send(call);
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return kube::Status(kube::StatusCode::kUnknown,
                        url + " answered HTTP " + std::to_string(reply->status));
  }
  return parse_prometheus(reply->body);
}

int cmd_top(Io& io, const Globals& g, Session& session, const TopOptions& o) {
  if (o.interval <= 0 || o.interval > 600) {
    return fail(io, "--interval must be between 0 and 600 seconds", kExitUsage);
  }
  std::string url = o.metrics_url;
  std::string ns = g.flags.ns;
  const bool have_platform = session.resolve(/*quiet=*/true);
  if (have_platform && ns.empty()) ns = session.ns();
  if (url.empty()) {
    // The gateway's public port serves no metrics (they name every function, private ones
    // too): on the local platform they are on its metrics endpoint; on a cluster the
    // gateway's metrics port is reached with a port-forward.
    if (have_platform && session.target().kind == Target::Kind::kLocal &&
        !session.target().metrics.empty()) {
      url = session.target().metrics;
      if (url.find('/', url.find("://") + 3) == std::string::npos) url += "/metrics";
    } else {
      return fail(
          io,
          "the gateway's public port serves no metrics: pass --metrics-url URL, for "
          "example after `kubectl -n kubefn-system port-forward deploy/kubefn-gateway 9090`: "
          "--metrics-url http://127.0.0.1:9090/metrics");
    }
  }
  if (ns.empty()) ns = "default";
  auto first = scrape(url);
  if (!first.ok()) return fail(io, "scraping " + url + ": " + first.status().message());
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.interval));
  auto second = scrape(url);
  if (!second.ok()) return fail(io, "scraping " + url + ": " + second.status().message());
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  auto loads = compute_top(*first, *second, seconds);

  // Replicas from the Functions' status; functions with no traffic still get a row.
  std::map<std::pair<std::string, std::string>, json> functions;
  if (have_platform && session.connect()) {
    auto items = list_functions(session, o.all ? "" : ns);
    if (items.ok()) {
      for (auto& f : *items)
        functions[{kube::object_namespace(f), kube::object_name(f)}] = f;
    } else {
      io.err << "warning: " << session.explain(items.status(), "listing functions") << "\n";
    }
  }
  std::map<std::pair<std::string, std::string>, FunctionLoad> by_key;
  for (const auto& l : loads) {
    if (l.name.empty() || o.all || l.ns == ns) by_key[{l.ns, l.name}] = l;
  }
  for (const auto& [key, f] : functions) {
    if (!by_key.count(key)) {
      FunctionLoad idle;
      idle.ns = key.first;
      idle.name = key.second;
      by_key[key] = idle;
    }
  }
  auto fmt = [](double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, v >= 100 ? "%.0f" : "%.1f", v);
    return std::string(buffer);
  };
  std::vector<std::vector<std::string>> rows;
  for (const auto& [key, l] : by_key) {
    std::string replicas = "-";
    if (auto it = functions.find(key); it != functions.end()) {
      const json& st = it->second.value("status", json::object());
      replicas = std::to_string(st.value("readyReplicas", 0)) + "/" +
                 std::to_string(st.value("replicas", 0));
    }
    const bool gateway_row = l.name.empty();
    rows.push_back({gateway_row ? "*" : l.ns, gateway_row ? "(gateway)" : l.name, replicas,
                    fmt(l.rps), fmt(l.error_rps), fmt(l.inflight), format_seconds(l.p50),
                    format_seconds(l.p99)});
  }
  if (output_is(g, "json") || output_is(g, "yaml")) {
    json items = json::array();
    for (const auto& r : rows) {
      items.push_back({{"namespace", r[0]},
                       {"name", r[1]},
                       {"replicas", r[2]},
                       {"rps", r[3]},
                       {"errorsPerSecond", r[4]},
                       {"inflight", r[5]},
                       {"p50", r[6]},
                       {"p99", r[7]}});
    }
    io.out << (output_is(g, "json") ? items.dump(2) + "\n" : to_yaml(items));
    return kExitOk;
  }
  io.out << format_table(
      {"NAMESPACE", "NAME", "REPLICAS", "RPS", "5XX/S", "INFLIGHT", "P50", "P99"}, rows);
  return kExitOk;
}

}  // namespace

std::string version() {
  return KUBEFN_VERSION;
}

int run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err,
        const Extensions& extensions) {
  Io io{in, out, err};
  Globals g;
  CLI::App app{"kubefn: deploy, call and watch C++ functions on Kubernetes or on `kubefn up`",
               "kubefn"};
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", "kubefn " + version());
  app.add_option("--kubeconfig", g.flags.kubeconfig, "kubeconfig file (selects the cluster)");
  app.add_option("--context", g.flags.context, "kubeconfig context (selects the cluster)");
  app.add_option("-n,--namespace", g.flags.ns, "namespace (default: the context's, or default)");
  app.add_option("--gateway", g.flags.gateway, "gateway URL for invoke and top ($KUBEFN_GATEWAY)");
  app.add_option("-o,--output", g.output, "output format: table, yaml or json")
      ->check(CLI::IsMember({"table", "yaml", "json"}));

  std::function<int(Session&)> action;

  // ---- up ---------------------------------------------------------------------------------
  // `kubefn up` (the embedded local platform) is registered here by add_up_command() from the
  // kubefn_up library; the executable passes it in when it is built with it (KUBEFN_HAVE_UP).
  if (extensions.add_up) extensions.add_up(app);
  // ------------------------------------------------------------------------------------------

  ApplyOptions apply;
  auto* apply_cmd = app.add_subcommand("apply", "create or update Functions from manifests");
  apply_cmd->alias("deploy");
  apply_cmd->add_option("-f,--filename", apply.files, "file, directory or - for stdin")->required();
  apply_cmd->add_flag("-R,--recursive", apply.recursive, "read directories' subdirectories too");
  apply_cmd->add_flag("--wait", apply.wait, "wait until every Function is Ready (or failed)");
  apply_cmd->add_option("--timeout", apply.timeout_seconds, "seconds --wait waits")
      ->capture_default_str();
  apply_cmd->add_flag("--force-conflicts", apply.force_conflicts,
                      "take over fields another field manager owns");
  apply_cmd->callback([&] { action = [&](Session& s) { return cmd_apply(io, g, s, apply); }; });

  bool list_all = false;
  auto* list_cmd = app.add_subcommand("list", "list Functions");
  list_cmd->alias("ls");
  list_cmd->add_flag("-A,--all-namespaces", list_all, "every namespace");
  list_cmd->callback([&] { action = [&](Session& s) { return cmd_list(io, g, s, list_all); }; });

  std::string describe_name;
  auto* describe_cmd = app.add_subcommand("describe", "show a Function, its conditions and events");
  describe_cmd->add_option("NAME", describe_name, "function name")->required();
  describe_cmd->callback(
      [&] { action = [&](Session& s) { return cmd_describe(io, g, s, describe_name); }; });

  InvokeOptions invoke;
  auto* invoke_cmd = app.add_subcommand("invoke", "call a Function through the gateway");
  invoke_cmd->add_option("NAME", invoke.name, "function name")->required();
  invoke_cmd->add_option("-d,--data", invoke.data, "request body");
  invoke_cmd->add_option("--data-file", invoke.data_file, "request body from a file");
  invoke_cmd->add_option("-X,--request", invoke.method,
                         "HTTP method (default GET, POST with data)");
  invoke_cmd->add_option("-H,--header", invoke.headers, "request header 'Name: value'");
  invoke_cmd->add_option("--path", invoke.path, "path (and query) after /NAMESPACE/NAME");
  invoke_cmd->add_option("--token", invoke.token, "bearer token for private functions");
  invoke_cmd->add_option("--timeout", invoke.timeout_seconds, "seconds to wait for the answer")
      ->capture_default_str();
  invoke_cmd->add_flag("-i,--include", invoke.include_headers, "print response headers to stderr");
  invoke_cmd->callback([&] { action = [&](Session& s) { return cmd_invoke(io, g, s, invoke); }; });

  LogsOptions logs;
  auto* logs_cmd = app.add_subcommand("logs", "print a Function's logs");
  logs_cmd->add_option("NAME", logs.name, "function name")->required();
  logs_cmd->add_flag("-f,--follow", logs.follow, "keep printing new lines (Ctrl-C to stop)");
  logs_cmd->add_option("--tail", logs.tail, "last N lines of each replica (-1: all)")
      ->capture_default_str();
  logs_cmd->add_flag("--no-prefix", logs.no_prefix, "do not prefix lines with [replica]");
  logs_cmd->callback([&] { action = [&](Session& s) { return cmd_logs(io, g, s, logs); }; });

  DeleteOptions del;
  auto* delete_cmd = app.add_subcommand("delete", "delete Functions");
  delete_cmd->add_option("NAME", del.names, "function names");
  delete_cmd->add_option("-f,--filename", del.files, "manifests naming the Functions");
  delete_cmd->add_flag("--wait", del.wait, "wait until they are gone");
  delete_cmd->add_option("--timeout", del.timeout_seconds, "seconds --wait waits")
      ->capture_default_str();
  delete_cmd->callback([&] { action = [&](Session& s) { return cmd_delete(io, g, s, del); }; });

  TopOptions top;
  auto* top_cmd =
      app.add_subcommand("top", "requests per second, in-flight and latency by function");
  top_cmd->add_option("--interval", top.interval, "seconds between the two scrapes")
      ->capture_default_str();
  top_cmd->add_flag("-A,--all-namespaces", top.all, "every namespace");
  top_cmd->add_option("--metrics-url", top.metrics_url,
                      "the gateway's metrics (default: the local platform's metrics endpoint)");
  top_cmd->callback([&] { action = [&](Session& s) { return cmd_top(io, g, s, top); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    out << "kubefn " << version() << "\n";
    return kExitOk;
  } catch (const CLI::RuntimeError& e) {  // a command that ran in its callback chose its code
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // CLI::Success: a command that ran in its own callback (up) finished well.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return kExitOk;
    err << "error: " << e.what() << "\n";
    err << "run 'kubefn --help' (or 'kubefn COMMAND --help') for usage\n";
    return kExitUsage;
  }
  if (!action) return kExitOk;  // a command that ran in its own callback (up)
  Session session(g, io);
  return action(session);
}

}  // namespace kubefn::cli
