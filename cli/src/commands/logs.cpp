// kubefn logs: a Function's replica logs, from local files or from its pods, with -f.
#include "kubefn/cli/logs.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "command.hpp"
#include "kubefn/api/function.hpp"
#include "kubefn/cli/http.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

namespace {

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
    options.label_selector = std::string(api::kFunctionLabel) + "=" + o.name;
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
        auto streamed = http_stream(call, [&](const std::string& chunk) {
          emit_lines(pod, partial, chunk);
          return static_cast<bool>(io.out);
        });
        // A stream that could not open is said, not dropped: the other pods' lines go on.
        if (!streamed.ok()) {
          std::lock_guard lock(out_mutex);
          fail(io, "logs of pod " + pod + ": " + streamed.status().message());
        }
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

}  // namespace

int cmd_logs(Io& io, const Globals&, Session& session, const LogsOptions& o) {
  if (!session.resolve()) return kExitError;
  if (session.target().kind == Target::Kind::kLocal) return logs_local(io, session, o);
  return logs_cluster(io, session, o);
}

}  // namespace kubefn::cli::commands
