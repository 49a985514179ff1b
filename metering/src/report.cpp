#include "kubefn/metering/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string_view>
#include <variant>

namespace kubefn::metering {
namespace {

constexpr std::size_t kBuckets = kLatencyBuckets.size() + 1;
constexpr double kBytesPerGB = 1073741824.0;  // 2^30

std::uint64_t minus(std::uint64_t end, std::uint64_t start) {
  return end >= start ? end - start : end;
}
double minus(double end, double start) {
  return end >= start ? end - start : end;
}

void histogram_delta(const std::array<std::uint64_t, kBuckets>& end, double end_sum,
                     const std::array<std::uint64_t, kBuckets>& start, double start_sum,
                     std::array<std::uint64_t, kBuckets>& out, double& out_sum) {
  // A histogram resets as a whole: if any bucket went backwards, count from zero.
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (end[i] < start[i]) {
      out = end;
      out_sum = end_sum;
      return;
    }
  }
  for (std::size_t i = 0; i < kBuckets; ++i)
    out[i] = end[i] - start[i];
  out_sum = minus(end_sum, start_sum);
}

std::string printf_string(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Six significant digits, never in exponent notation: 0.0312000, 0.0000123457, 123457.
std::string money(double v) {
  if (v == 0 || !std::isfinite(v)) return "0";
  const int magnitude = static_cast<int>(std::floor(std::log10(std::fabs(v))));
  const int decimals = std::clamp(5 - magnitude, 0, 15);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string latency(double seconds) {
  const double ms = seconds * 1e3;
  if (ms < 1) return printf_string("%.2fms", ms);
  if (ms < 10000) return printf_string("%.1fms", ms);
  return printf_string("%.1fs", seconds);
}

std::string percent(double share) {
  const double p = share * 100;
  if (p > 0 && p < 0.5) return "<1%";
  return printf_string("%.0f%%", p);
}

// "1h", "30m", "1h10s", "2d": the window in its units, zero ones left out.
std::string span(double seconds) {
  auto s = static_cast<long long>(std::llround(std::max(seconds, 0.0)));
  if (s == 0) return "0s";
  std::string out;
  const std::pair<long long, const char*> units[] = {
      {86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (const auto& [size, name] : units) {
    if (s >= size) {
      out += std::to_string(s / size) + name;
      s %= size;
    }
  }
  return out;
}

nlohmann::json function_json(const FunctionCost& f) {
  nlohmann::json invocations = nlohmann::json::object();
  for (std::size_t i = 0; i < kOutcomeNames.size(); ++i)
    invocations[kOutcomeNames[i]] = f.invocations[i];
  invocations["total"] = f.invocations_total;
  return {
      {"namespace", f.ns},
      {"name", f.name},
      {"window_seconds", f.window_seconds},
      {"invocations", invocations},
      {"latency_p50_seconds", f.latency_p50},
      {"latency_p99_seconds", f.latency_p99},
      {"billed_seconds", f.billed_seconds},
      {"gb_seconds", f.gb_seconds},
      {"cold_starts", f.cold_starts},
      {"replica_seconds",
       {{"starting", f.replicas.starting_seconds},
        {"busy", f.replicas.busy_seconds},
        {"idle", f.replicas.idle_seconds}}},
      {"cpu_core_seconds", f.replicas.cpu_core_seconds},
      {"memory_gb_seconds", f.replicas.memory_gb_seconds},
      {"utilisation", f.utilisation},
      {"cost",
       {{"requests", f.cost_requests},
        {"cpu", f.cost_cpu},
        {"memory", f.cost_memory},
        {"idle", f.cost_idle},
        {"total", f.cost_total}}},
      {"idle_share", f.idle_share},
      {"lambda_cost", f.lambda_cost},
      {"always_on_cost", f.always_on_cost},
  };
}

FunctionCost function_from_json(const nlohmann::json& j) {
  FunctionCost f;
  f.ns = j.at("namespace").get<std::string>();
  f.name = j.at("name").get<std::string>();
  f.window_seconds = j.at("window_seconds").get<double>();
  const auto& inv = j.at("invocations");
  for (std::size_t i = 0; i < kOutcomeNames.size(); ++i)
    f.invocations[i] = inv.at(kOutcomeNames[i]).get<std::uint64_t>();
  f.invocations_total = inv.at("total").get<std::uint64_t>();
  f.latency_p50 = j.at("latency_p50_seconds").get<double>();
  f.latency_p99 = j.at("latency_p99_seconds").get<double>();
  f.billed_seconds = j.at("billed_seconds").get<double>();
  f.gb_seconds = j.at("gb_seconds").get<double>();
  f.cold_starts = j.at("cold_starts").get<std::uint64_t>();
  const auto& r = j.at("replica_seconds");
  f.replicas.starting_seconds = r.at("starting").get<double>();
  f.replicas.busy_seconds = r.at("busy").get<double>();
  f.replicas.idle_seconds = r.at("idle").get<double>();
  f.replicas.cpu_core_seconds = j.at("cpu_core_seconds").get<double>();
  f.replicas.memory_gb_seconds = j.at("memory_gb_seconds").get<double>();
  f.utilisation = j.at("utilisation").get<double>();
  const auto& c = j.at("cost");
  f.cost_requests = c.at("requests").get<double>();
  f.cost_cpu = c.at("cpu").get<double>();
  f.cost_memory = c.at("memory").get<double>();
  f.cost_idle = c.at("idle").get<double>();
  f.cost_total = c.at("total").get<double>();
  f.idle_share = j.at("idle_share").get<double>();
  f.lambda_cost = j.at("lambda_cost").get<double>();
  f.always_on_cost = j.at("always_on_cost").get<double>();
  return f;
}

}  // namespace

Totals delta(const Totals& end, const Totals* start) {
  if (start == nullptr) return end;
  Totals d = end;  // names and the replica gauges are end's
  for (std::size_t i = 0; i < d.invocations.size(); ++i)
    d.invocations[i] = minus(end.invocations[i], start->invocations[i]);
  d.billed_seconds = minus(end.billed_seconds, start->billed_seconds);
  d.gb_seconds = minus(end.gb_seconds, start->gb_seconds);
  d.cold_starts = minus(end.cold_starts, start->cold_starts);
  histogram_delta(end.latency_buckets, end.latency_sum, start->latency_buckets, start->latency_sum,
                  d.latency_buckets, d.latency_sum);
  histogram_delta(end.wait_buckets, end.wait_sum, start->wait_buckets, start->wait_sum,
                  d.wait_buckets, d.wait_sum);
  d.replicas.starting_seconds =
      minus(end.replicas.starting_seconds, start->replicas.starting_seconds);
  d.replicas.busy_seconds = minus(end.replicas.busy_seconds, start->replicas.busy_seconds);
  d.replicas.idle_seconds = minus(end.replicas.idle_seconds, start->replicas.idle_seconds);
  d.replicas.cpu_core_seconds =
      minus(end.replicas.cpu_core_seconds, start->replicas.cpu_core_seconds);
  d.replicas.memory_gb_seconds =
      minus(end.replicas.memory_gb_seconds, start->replicas.memory_gb_seconds);
  d.cost_requests = minus(end.cost_requests, start->cost_requests);
  d.cost_cpu = minus(end.cost_cpu, start->cost_cpu);
  d.cost_memory = minus(end.cost_memory, start->cost_memory);
  d.cost_idle = minus(end.cost_idle, start->cost_idle);
  return d;
}

double quantile(const std::array<std::uint64_t, kLatencyBuckets.size() + 1>& buckets, double q) {
  const std::uint64_t count = buckets.back();
  if (count == 0 || std::isnan(q)) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * static_cast<double>(count);
  // The first bucket holding the rank (and holding anything, so that q = 0 is the lower bound of
  // the first non-empty bucket).
  std::size_t b = 0;
  while (b < kBuckets - 1 && !(static_cast<double>(buckets[b]) >= rank && buckets[b] > 0))
    ++b;
  if (b == kBuckets - 1) return kLatencyBuckets.back();  // in +Inf: the last finite bound
  const double lower = b == 0 ? 0 : kLatencyBuckets[b - 1];
  const double upper = kLatencyBuckets[b];
  const double below = b == 0 ? 0 : static_cast<double>(buckets[b - 1]);
  const double in_bucket = static_cast<double>(buckets[b]) - below;
  if (in_bucket <= 0) return upper;
  return lower + (upper - lower) * ((rank - below) / in_bucket);
}

FunctionCost price(const Totals& w, double window_seconds, const PriceSheet& prices) {
  FunctionCost f;
  f.ns = w.ns;
  f.name = w.name;
  f.window_seconds = window_seconds;
  f.invocations = w.invocations;
  f.invocations_total = w.invocations_total();
  f.latency_p50 = quantile(w.latency_buckets, 0.5);
  f.latency_p99 = quantile(w.latency_buckets, 0.99);
  f.billed_seconds = w.billed_seconds;
  f.gb_seconds = w.gb_seconds;
  f.cold_starts = w.cold_starts;
  f.replicas = w.replicas;
  const double replica_seconds =
      w.replicas.starting_seconds + w.replicas.busy_seconds + w.replicas.idle_seconds;
  f.utilisation = replica_seconds > 0 ? w.replicas.busy_seconds / replica_seconds : 0;
  f.cost_requests = w.cost_requests;
  f.cost_cpu = w.cost_cpu;
  f.cost_memory = w.cost_memory;
  f.cost_idle = w.cost_idle;
  f.cost_total = f.cost_requests + f.cost_cpu + f.cost_memory + f.cost_idle;
  f.idle_share = f.cost_total > 0 ? f.cost_idle / f.cost_total : 0;
  const auto throttled = w.invocations[static_cast<std::size_t>(Outcome::kThrottled)];
  const auto billable = static_cast<double>(f.invocations_total - throttled);
  f.lambda_cost =
      billable * prices.lambda_requests_per_million / 1e6 + w.gb_seconds * prices.lambda_gb_second;
  const double cores = replica_seconds > 0 ? w.replicas.cpu_core_seconds / replica_seconds : 0;
  const double gb = replica_seconds > 0
                        ? w.replicas.memory_gb_seconds / replica_seconds
                        : static_cast<double>(prices.default_memory_bytes) / kBytesPerGB;
  f.always_on_cost = window_seconds * prices.replica_second(cores, gb);
  return f;
}

nlohmann::json to_json(const CostReport& r) {
  nlohmann::json functions = nlohmann::json::array();
  for (const auto& f : r.functions)
    functions.push_back(function_json(f));
  return {
      {"currency", r.currency}, {"window_seconds", r.window_seconds}, {"since", r.since_unix},
      {"until", r.until_unix},  {"prices", to_json(r.prices)},        {"functions", functions},
  };
}

CostReport report_from_json(const nlohmann::json& j) {
  CostReport r;
  r.currency = j.at("currency").get<std::string>();
  r.window_seconds = j.at("window_seconds").get<double>();
  r.since_unix = j.at("since").get<std::int64_t>();
  r.until_unix = j.at("until").get<std::int64_t>();
  const auto& prices = j.at("prices");
  auto parsed = parse_price_sheet(prices.dump());
  if (auto* error = std::get_if<std::string>(&parsed))
    throw nlohmann::json::other_error::create(501, "prices: " + *error, &prices);
  r.prices = std::get<PriceSheet>(parsed);
  for (const auto& f : j.at("functions"))
    r.functions.push_back(function_from_json(f));
  return r;
}

std::string to_table(const CostReport& r) {
  const std::string window = span(r.window_seconds);
  if (r.functions.empty()) return "no functions metered in the last " + window + "\n";

  using Row = std::vector<std::string>;
  const Row header = {"NAMESPACE", "NAME",  "CALLS", "P50",  "P99",   "GB-S",   "BUSY",
                      "IDLE",      "START", "UTIL",  "COST", "IDLE%", "LAMBDA", "24x7"};
  constexpr std::size_t kTextColumns = 2;  // left-aligned; the rest are right-aligned
  std::vector<Row> rows = {header};

  FunctionCost total;
  const FunctionCost* most_idle = nullptr;
  for (const auto& f : r.functions) {
    const bool calls = f.invocations_total > 0;
    const double replica_seconds =
        f.replicas.starting_seconds + f.replicas.busy_seconds + f.replicas.idle_seconds;
    rows.push_back({f.ns, f.name, std::to_string(f.invocations_total),
                    calls ? latency(f.latency_p50) : "-", calls ? latency(f.latency_p99) : "-",
                    printf_string("%.3f", f.gb_seconds),
                    printf_string("%.1fs", f.replicas.busy_seconds),
                    printf_string("%.1fs", f.replicas.idle_seconds),
                    printf_string("%.1fs", f.replicas.starting_seconds),
                    replica_seconds > 0 ? percent(f.utilisation) : "-", money(f.cost_total),
                    f.cost_total > 0 ? percent(f.idle_share) : "-", money(f.lambda_cost),
                    money(f.always_on_cost)});
    total.invocations_total += f.invocations_total;
    total.gb_seconds += f.gb_seconds;
    total.replicas.busy_seconds += f.replicas.busy_seconds;
    total.replicas.idle_seconds += f.replicas.idle_seconds;
    total.replicas.starting_seconds += f.replicas.starting_seconds;
    total.cost_total += f.cost_total;
    total.cost_idle += f.cost_idle;
    total.lambda_cost += f.lambda_cost;
    total.always_on_cost += f.always_on_cost;
    if (f.cost_idle > 0 && (most_idle == nullptr || f.cost_idle > most_idle->cost_idle))
      most_idle = &f;
  }
  const double total_replica_seconds =
      total.replicas.starting_seconds + total.replicas.busy_seconds + total.replicas.idle_seconds;
  const double idle_share = total.cost_total > 0 ? total.cost_idle / total.cost_total : 0;
  rows.push_back(
      {"TOTAL", "", std::to_string(total.invocations_total), "-", "-",
       printf_string("%.3f", total.gb_seconds), printf_string("%.1fs", total.replicas.busy_seconds),
       printf_string("%.1fs", total.replicas.idle_seconds),
       printf_string("%.1fs", total.replicas.starting_seconds),
       total_replica_seconds > 0 ? percent(total.replicas.busy_seconds / total_replica_seconds)
                                 : "-",
       money(total.cost_total), total.cost_total > 0 ? percent(idle_share) : "-",
       money(total.lambda_cost), money(total.always_on_cost)});

  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());

  std::ostringstream out;
  out << "cost in " << r.currency << " over the last " << window
      << " (COST: this platform; LAMBDA: the same calls hosted; 24x7: one replica always on)\n";
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const std::string pad(widths[i] - row[i].size(), ' ');
      line += i < kTextColumns ? row[i] + pad : pad + row[i];
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out << line << "\n";
  }
  if (idle_share > 0 && most_idle != nullptr) {
    out << "idle replicas are " << percent(idle_share)
        << " of the cost (keep-alive): ready replicas with no call in flight, most of it "
        << most_idle->ns << "/" << most_idle->name << "'s " << money(most_idle->cost_idle) << " "
        << r.currency
        << "; scaling.minReplicas, scaleToZeroGracePeriod and keepAlive set how long replicas "
           "wait for calls\n";
  }
  return out.str();
}

}  // namespace kubefn::metering
