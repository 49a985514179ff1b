// kubefn top: load by function from two scrapes of the gateway's metrics.
#include "kubefn/cli/top.hpp"

#include <cstdio>
#include <map>
#include <thread>

#include "command.hpp"
#include "kubefn/cli/http.hpp"
#include "kubefn/cli/manifest.hpp"
#include "kubefn/cli/prometheus.hpp"
#include "kubefn/cli/table.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

namespace {

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

}  // namespace

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

}  // namespace kubefn::cli::commands
