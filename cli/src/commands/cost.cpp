// kubefn cost: what each function used and cost over a window, priced beside the same load on
// the hosted comparison and on one replica kept running all the time.
#include "kubefn/cli/cost.hpp"

#include <chrono>
#include <filesystem>

#include "command.hpp"
#include "kubefn/cli/http.hpp"
#include "kubefn/cli/manifest.hpp"
#include "kubefn/metering/history.hpp"

namespace kubefn::cli::commands {

using nlohmann::json;

namespace {

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

kube::Result<json> get_json(const std::string& url) {
  HttpCall call;
  call.url = url;
  call.timeout = std::chrono::seconds(30);
  auto reply = http_send(call);
  if (!reply.ok()) return reply.status();
  json body = json::parse(reply->body, nullptr, false);
  if (reply->status != 200 && !(body.is_object() && body.contains("error"))) {
    return kube::Status(kube::StatusCode::kUnknown,
                        url + " answered HTTP " + std::to_string(reply->status));
  }
  if (body.is_discarded()) {
    return kube::Status(kube::StatusCode::kUnknown, url + " answered something not JSON");
  }
  return body;
}

kube::Result<metering::CostReport> from_prometheus(const std::string& base, std::int64_t window) {
  std::map<std::string, json> answers;
  const std::int64_t now = unix_now();
  std::string root = base;
  while (!root.empty() && root.back() == '/')
    root.pop_back();
  for (const auto& [name, query] : cost_queries(window)) {
    // Evaluated at Prometheus's own now (a whole-second time from here could fall before its
    // latest scrape).
    auto answer = get_json(root + "/api/v1/query?query=" + url_encode(query));
    if (!answer.ok()) return answer.status();
    answers[name] = std::move(answer).value();
  }
  return report_from_prometheus(answers, window, now);
}

kube::Result<metering::CostReport> from_local(const std::string& metrics, std::int64_t window) {
  // The metrics endpoint's root: the state file names ".../metrics" or the bare address.
  std::string root = metrics;
  const auto scheme = root.find("://");
  if (const auto slash = root.find('/', scheme == std::string::npos ? 0 : scheme + 3);
      slash != std::string::npos) {
    root.resize(slash);
  }
  auto body = get_json(root + "/api/v1/cost?since=" + std::to_string(window));
  if (!body.ok()) return body.status();
  if (body->contains("error")) {
    return kube::Status(kube::StatusCode::kInvalid, (*body)["error"].get<std::string>());
  }
  try {
    return metering::report_from_json(*body);
  } catch (const json::exception& e) {
    return kube::Status(kube::StatusCode::kUnknown,
                        "the platform's cost report does not parse: " + std::string(e.what()));
  }
}

}  // namespace

int cmd_cost(Io& io, const Globals& g, Session& session, const CostOptions& o) {
  const auto window = parse_duration_seconds(o.since);
  if (!window) {
    return fail(io, "--since " + o.since + " is not a duration (e.g. 90s, 15m, 6h, 7d)",
                kExitUsage);
  }
  if (!g.output.empty() && !output_is(g, "table") && !output_is(g, "json")) {
    return fail(io, "kubefn cost prints -o table or -o json", kExitUsage);
  }
  std::string ns = g.flags.ns;
  kube::Result<metering::CostReport> report =
      kube::Status(kube::StatusCode::kUnknown, "no source of figures");
  std::string note;
  if (!o.prometheus.empty()) {
    report = from_prometheus(o.prometheus, *window);
    if (!report.ok())
      return fail(io, "querying " + o.prometheus + ": " + report.status().message());
    if (ns.empty() && session.resolve(/*quiet=*/true)) ns = session.ns();
  } else if (session.resolve(/*quiet=*/true) && session.target().kind == Target::Kind::kLocal &&
             !session.target().metrics.empty()) {
    if (ns.empty()) ns = session.ns();
    report = from_local(session.target().metrics, *window);
    if (!report.ok()) {
      return fail(io, "asking the local platform (" + session.target().metrics +
                          "): " + report.status().message());
    }
  } else {
    // No platform running here: its totals as it left them, from its history.
    const auto file = kubefn_home(kube::process_environment()) / "metering" / "history.jsonl";
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
      return fail(io,
                  "no figures to show: start the local platform (`kubefn up`), or on a cluster "
                  "pass --prometheus URL (the Prometheus that scrapes kubefn's gateway and "
                  "operator)");
    }
    try {
      metering::History history(file);
      const auto last = history.last();
      if (!last)
        return fail(io, "the local platform has metered nothing yet (" + file.string() + ")");
      report = history.report(*last, *window, metering::PriceSheet{});
      note =
          "kubefn up is not running: figures up to its last sample, priced as they were; "
          "the hosted and always-on comparisons at the default price sheet\n";
    } catch (const std::exception& e) {
      return fail(io, "reading " + file.string() + ": " + e.what());
    }
  }
  if (ns.empty()) ns = "default";
  metering::CostReport shown = std::move(report).value();
  std::vector<metering::FunctionCost> kept;
  for (auto& f : shown.functions) {
    if (!o.name.empty() && f.name != o.name) continue;
    if (!o.all && f.ns != ns) continue;
    kept.push_back(std::move(f));
  }
  shown.functions = std::move(kept);
  if (!o.name.empty() && shown.functions.empty()) {
    return fail(io, "function " + o.name + " in namespace " + ns + " has no figures in the last " +
                        o.since + " (kubefn cost -A lists every namespace)");
  }
  if (output_is(g, "json")) {
    io.out << metering::to_json(shown).dump(2) << "\n";
    return kExitOk;
  }
  io.err << note;
  io.out << metering::to_table(shown);
  return kExitOk;
}

}  // namespace kubefn::cli::commands
