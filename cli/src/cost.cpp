#include "kubefn/cli/cost.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kubefn/cli/prometheus.hpp"

namespace kubefn::cli {

using nlohmann::json;

std::optional<std::int64_t> parse_duration_seconds(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double total = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    std::size_t j = i;
    while (j < text.size() && ((text[j] >= '0' && text[j] <= '9') || text[j] == '.'))
      ++j;
    if (j == i) return std::nullopt;
    const std::string number(text.substr(i, j - i));
    char* end = nullptr;
    const double n = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size()) return std::nullopt;
    double unit = 0;
    if (j == text.size()) {
      if (any) return std::nullopt;  // "1h30" is unclear
      unit = 1;
    } else {
      switch (text[j]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        default:
          return std::nullopt;
      }
      ++j;
    }
    total += n * unit;
    any = true;
    i = j;
  }
  if (!(total >= 1) || !std::isfinite(total)) return std::nullopt;
  return static_cast<std::int64_t>(std::ceil(total));
}

std::vector<std::pair<std::string, std::string>> cost_queries(std::int64_t window_seconds) {
  const std::string w = "[" + std::to_string(window_seconds) + "s]";
  auto inc = [&](const std::string& metric, const std::string& by) {
    return "sum by (namespace, function" + (by.empty() ? "" : ", " + by) + ") (increase(" + metric +
           w + "))";
  };
  return {
      {"invocations", inc("kubefn_function_invocations_total", "outcome")},
      {"billed", inc("kubefn_function_billed_seconds_total", "")},
      {"gb", inc("kubefn_function_gb_seconds_total", "")},
      {"cold", inc("kubefn_function_cold_starts_total", "")},
      {"latency", inc("kubefn_function_latency_seconds_bucket", "le")},
      {"replica", inc("kubefn_function_replica_seconds_total", "state")},
      {"cpu", inc("kubefn_function_cpu_core_seconds_total", "")},
      {"memory", inc("kubefn_function_memory_gb_seconds_total", "")},
      {"cost", inc("kubefn_function_cost_total", "component, currency")},
      // Prices now (a window priced at several sheets is in the cost counters already).
      {"price_cpu", "max by (currency) (kubefn_price_cpu_core_hour)"},
      {"price_memory", "max by (currency) (kubefn_price_memory_gb_hour)"},
      {"price_requests", "max by (currency) (kubefn_price_requests_per_million)"},
      {"price_lambda_requests", "max by (currency) (kubefn_price_lambda_requests_per_million)"},
      {"price_lambda_gb", "max by (currency) (kubefn_price_lambda_gb_second)"},
      {"price_granularity", "max by (currency) (kubefn_price_granularity_seconds)"},
      {"price_memory_default", "max by (currency) (kubefn_price_default_memory_bytes)"},
  };
}

namespace {

struct Row {
  std::map<std::string, std::string> labels;
  double value = 0;
};

kube::Result<std::vector<Row>> rows_of(const std::map<std::string, json>& answers,
                                       const std::string& name) {
  auto bad = [&](const std::string& why) {
    return kube::Status(kube::StatusCode::kUnknown, "Prometheus query " + name + ": " + why);
  };
  const auto it = answers.find(name);
  if (it == answers.end()) return bad("no answer");
  const json& a = it->second;
  if (!a.is_object() || a.value("status", "") != "success") {
    return bad(a.is_object() ? a.value("error", std::string("failed")) : "not JSON");
  }
  const json& data = a.contains("data") ? a["data"] : json();
  if (!data.is_object() || data.value("resultType", "") != "vector" || !data.contains("result") ||
      !data["result"].is_array()) {
    return bad("not a vector result");
  }
  std::vector<Row> rows;
  for (const json& r : data["result"]) {
    Row row;
    if (r.contains("metric") && r["metric"].is_object()) {
      for (const auto& [k, v] : r["metric"].items()) {
        if (v.is_string()) row.labels[k] = v.get<std::string>();
      }
    }
    if (!r.contains("value") || !r["value"].is_array() || r["value"].size() != 2 ||
        !r["value"][1].is_string()) {
      return bad("a sample without a value");
    }
    const auto v = parse_prometheus_value(r["value"][1].get<std::string>());
    if (!v) return bad("a value that is not a number");
    row.value = std::isfinite(*v) ? *v : 0;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::uint64_t count_of(double v) {
  return v <= 0 ? 0 : static_cast<std::uint64_t>(std::llround(v));
}

}  // namespace

kube::Result<metering::CostReport> report_from_prometheus(
    const std::map<std::string, json>& answers, std::int64_t window_seconds,
    std::int64_t now_unix) {
  metering::CostReport report;
  report.window_seconds = static_cast<double>(window_seconds);
  report.until_unix = now_unix;
  report.since_unix = now_unix - window_seconds;
  // Prices: the gauges' (any currency they name), else the defaults.
  metering::PriceSheet& p = report.prices;
  const std::pair<const char*, double*> prices[] = {
      {"price_cpu", &p.cpu_core_hour},
      {"price_memory", &p.memory_gb_hour},
      {"price_requests", &p.requests_per_million},
      {"price_lambda_requests", &p.lambda_requests_per_million},
      {"price_lambda_gb", &p.lambda_gb_second},
      {"price_granularity", &p.granularity_seconds}};
  for (const auto& [name, field] : prices) {
    auto rows = rows_of(answers, name);
    if (!rows.ok()) return rows.status();
    if (!rows->empty()) {
      *field = rows->front().value;
      const auto c = rows->front().labels.find("currency");
      if (c != rows->front().labels.end() && !c->second.empty()) p.currency = c->second;
    }
  }
  {
    auto rows = rows_of(answers, "price_memory_default");
    if (!rows.ok()) return rows.status();
    if (!rows->empty() && rows->front().value > 0) {
      p.default_memory_bytes = static_cast<std::int64_t>(rows->front().value);
    }
  }
  report.currency = p.currency;

  std::map<std::pair<std::string, std::string>, metering::Totals> totals;
  auto totals_of = [&](const Row& r) -> metering::Totals& {
    const auto ns = r.labels.count("namespace") ? r.labels.at("namespace") : "";
    const auto fn = r.labels.count("function") ? r.labels.at("function") : "";
    auto& t = totals[{ns, fn}];
    t.ns = ns;
    t.name = fn;
    return t;
  };
  auto each = [&](const std::string& name, auto&& add) -> kube::Status {
    auto rows = rows_of(answers, name);
    if (!rows.ok()) return rows.status();
    for (const Row& r : *rows) {
      if (!r.labels.count("function") || r.labels.at("function").empty()) continue;
      add(totals_of(r), r);
    }
    return kube::Status();
  };
  auto label = [](const Row& r, const char* k) {
    const auto it = r.labels.find(k);
    return it == r.labels.end() ? std::string() : it->second;
  };
  std::vector<kube::Status> results;
  results.push_back(each("invocations", [&](metering::Totals& t, const Row& r) {
    const std::string outcome = label(r, "outcome");
    for (std::size_t i = 0; i < metering::kOutcomeNames.size(); ++i) {
      if (outcome == metering::kOutcomeNames[i]) t.invocations[i] += count_of(r.value);
    }
  }));
  results.push_back(
      each("billed", [&](metering::Totals& t, const Row& r) { t.billed_seconds += r.value; }));
  results.push_back(
      each("gb", [&](metering::Totals& t, const Row& r) { t.gb_seconds += r.value; }));
  results.push_back(
      each("cold", [&](metering::Totals& t, const Row& r) { t.cold_starts += count_of(r.value); }));
  results.push_back(each("latency", [&](metering::Totals& t, const Row& r) {
    const std::string le = label(r, "le");
    const auto v = parse_prometheus_value(le);
    if (!v) return;
    std::size_t i = 0;  // +Inf: the last slot
    if (std::isfinite(*v)) {
      while (i < metering::kLatencyBuckets.size() &&
             std::abs(metering::kLatencyBuckets[i] - *v) > 1e-12 * std::max(1.0, *v)) {
        ++i;
      }
      if (i == metering::kLatencyBuckets.size()) return;  // not one of ours
    } else {
      i = metering::kLatencyBuckets.size();
    }
    t.latency_buckets[i] += count_of(r.value);
  }));
  results.push_back(each("replica", [&](metering::Totals& t, const Row& r) {
    const std::string state = label(r, "state");
    if (state == "starting") t.replicas.starting_seconds += r.value;
    if (state == "busy") t.replicas.busy_seconds += r.value;
    if (state == "idle") t.replicas.idle_seconds += r.value;
  }));
  results.push_back(each(
      "cpu", [&](metering::Totals& t, const Row& r) { t.replicas.cpu_core_seconds += r.value; }));
  results.push_back(each("memory", [&](metering::Totals& t, const Row& r) {
    t.replicas.memory_gb_seconds += r.value;
  }));
  results.push_back(each("cost", [&](metering::Totals& t, const Row& r) {
    const std::string c = label(r, "component");
    if (c == "requests") t.cost_requests += r.value;
    if (c == "cpu") t.cost_cpu += r.value;
    if (c == "memory") t.cost_memory += r.value;
    if (c == "idle") t.cost_idle += r.value;
  }));
  for (const auto& s : results) {
    if (!s.ok()) return s;
  }
  for (auto& [key, t] : totals) {
    // Cumulative buckets never fall: one Prometheus left out (no series yet) counts as the
    // bucket below it.
    for (std::size_t i = 1; i < t.latency_buckets.size(); ++i)
      t.latency_buckets[i] = std::max(t.latency_buckets[i], t.latency_buckets[i - 1]);
    report.functions.push_back(metering::price(t, report.window_seconds, report.prices));
  }
  return report;
}

}  // namespace kubefn::cli
