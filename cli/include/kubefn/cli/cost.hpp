// `kubefn cost`: what each function used and cost over a window, from the local platform's own
// totals or, on a cluster, from Prometheus (the queries and the report built from their
// answers are here, apart from the command, to be tested on their own).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kubefn/kube/result.hpp"
#include "kubefn/metering/report.hpp"

namespace kubefn::cli {

// "90s", "15m", "6h", "7d", "1h30m" or a number of seconds; nothing when it is none of these or
// not positive.
std::optional<std::int64_t> parse_duration_seconds(std::string_view text);

// The PromQL instant queries for a window of `window_seconds` ending now, by a name the
// report reads them by: increases of every kubefn_function_* counter by namespace and function
// (and outcome, state, component, le), and the price gauges.
std::vector<std::pair<std::string, std::string>> cost_queries(std::int64_t window_seconds);

// The report from the answers (each a Prometheus /api/v1/query response body, by the name in
// cost_queries). An answer that is not a successful vector result is an error naming the query.
kube::Result<metering::CostReport> report_from_prometheus(
    const std::map<std::string, nlohmann::json>& answers, std::int64_t window_seconds,
    std::int64_t now_unix);

}  // namespace kubefn::cli
