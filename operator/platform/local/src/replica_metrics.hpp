#pragma once

// `kubefn up`'s metrics endpoint shows every replica's own metrics (the Kubeless-named
// function_* series, kubefn_runtime_*, process_*) beside its own (private to the module).

#include <string>
#include <vector>

#include "kubefn/gateway/route_table.hpp"

namespace kubefn::platform::local::detail {

// One replica's metrics page (Prometheus text) and whose it is.
struct ReplicaPage {
  std::string ns;
  std::string function;
  std::string replica;
  std::string text;
};

// The pages as one: namespace, function and replica labels added to every sample, each family
// once (its HELP and TYPE lines as first seen, then the samples of every page), families in the
// order they first appear. Comments other than HELP and TYPE are dropped.
std::string merge_replica_metrics(const std::vector<ReplicaPage>& pages);

// The pages of every ready endpoint of `routes` (GET /metrics of each), merged.
std::string replica_metrics(gateway::RouteTable& routes);

}  // namespace kubefn::platform::local::detail
