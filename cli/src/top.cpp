#include "kubefn/cli/top.hpp"

#include <cmath>
#include <cstdio>

namespace kubefn::cli {
namespace {

using Key = std::pair<std::string, std::string>;  // namespace, function

struct Totals {
  double requests = 0;
  double errors = 0;
  double inflight = 0;
  std::map<double, double> buckets;  // le -> cumulative count, summed over other labels
  bool seen = false;
};

// Series labelled with a function count for it; every series also counts for the gateway as a
// whole (key {"", ""}), so a gateway that does not label a metric still shows it in total.
std::vector<Key> keys_of(const Sample& sample) {
  std::vector<Key> keys = {Key{"", ""}};
  auto ns = sample.labels.find("namespace");
  auto fn = sample.labels.find("function");
  if (ns != sample.labels.end() && fn != sample.labels.end() && !fn->second.empty()) {
    keys.emplace_back(ns->second, fn->second);
  }
  return keys;
}

std::map<Key, Totals> totals_of(const std::vector<Sample>& samples) {
  std::map<Key, Totals> out;
  for (const auto& sample : samples) {
    for (const auto& key : keys_of(sample)) {
      Totals& totals = out[key];
      if (sample.name == "kubefn_gateway_requests_total") {
        totals.requests += sample.value;
        auto code = sample.labels.find("code");
        if (code != sample.labels.end() && !code->second.empty() && code->second[0] == '5') {
          totals.errors += sample.value;
        }
        totals.seen = true;
      } else if (sample.name == "kubefn_gateway_inflight_requests") {
        totals.inflight += sample.value;
        totals.seen = true;
      } else if (sample.name == "kubefn_gateway_upstream_duration_seconds_bucket") {
        auto le = sample.labels.find("le");
        if (le == sample.labels.end()) continue;
        auto bound = parse_prometheus_value(le->second);
        if (!bound) continue;
        totals.buckets[*bound] += sample.value;
        totals.seen = true;
      }
    }
  }
  return out;
}

std::vector<Bucket> to_buckets(const std::map<double, double>& counts) {
  std::vector<Bucket> out;
  for (const auto& [le, count] : counts)
    out.push_back({le, count});
  return out;
}

}  // namespace

std::vector<FunctionLoad> compute_top(const std::vector<Sample>& before,
                                      const std::vector<Sample>& after, double seconds) {
  const auto first = totals_of(before);
  const auto second = totals_of(after);
  std::vector<FunctionLoad> out;
  for (const auto& [key, now] : second) {
    if (!now.seen) continue;
    FunctionLoad load;
    load.ns = key.first;
    load.name = key.second;
    load.inflight = now.inflight;
    auto then = first.find(key);
    std::map<double, double> delta = now.buckets;
    bool any_new = false;
    if (then != first.end()) {
      if (seconds > 0) {
        // A counter that went down was reset (gateway restart): count from zero.
        const double requests = now.requests >= then->second.requests
                                    ? now.requests - then->second.requests
                                    : now.requests;
        const double errors =
            now.errors >= then->second.errors ? now.errors - then->second.errors : now.errors;
        load.rps = requests / seconds;
        load.error_rps = errors / seconds;
      }
      for (auto& [le, count] : delta) {
        auto old = then->second.buckets.find(le);
        if (old != then->second.buckets.end() && count >= old->second) count -= old->second;
        if (count > 0) any_new = true;
      }
    }
    const auto& source = any_new ? delta : now.buckets;
    load.p50 = histogram_quantile(0.5, to_buckets(source));
    load.p99 = histogram_quantile(0.99, to_buckets(source));
    out.push_back(std::move(load));
  }
  return out;
}

std::string format_seconds(std::optional<double> seconds) {
  if (!seconds || std::isnan(*seconds)) return "-";
  char buffer[32];
  const double s = *seconds;
  if (s < 1e-3) {
    std::snprintf(buffer, sizeof buffer, "%.0fus", s * 1e6);
  } else if (s < 1) {
    std::snprintf(buffer, sizeof buffer, "%.1fms", s * 1e3);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2fs", s);
  }
  return buffer;
}

}  // namespace kubefn::cli
