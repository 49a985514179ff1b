// What the gateway's end-to-end tests share: routes to replicas on 127.0.0.1, and a gateway on
// port 0 (its metrics listener too) over the fixture's route table and keys.
#pragma once

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kubefn/gateway/gateway.hpp"
#include "kubefn/testing/http_client.hpp"
#include "kubefn/testing/metrics_text.hpp"

namespace kubefn::gateway::e2e {

// A ready replica on 127.0.0.1.
inline Endpoint local(const std::string& id, std::uint16_t port) {
  return Endpoint{id, "127.0.0.1", port, true};
}

// The route of function `name` in namespace "default".
inline FunctionRoute make_route(const std::string& name, std::vector<Endpoint> endpoints,
                                Access access = Access::kPublic) {
  FunctionRoute r;
  r.ns = "default";
  r.name = name;
  r.access = access;
  r.endpoints = std::move(endpoints);
  return r;
}

class GatewayTest : public ::testing::Test {
 protected:
  // Two threads unless `options` says otherwise.
  void start(GatewayOptions options = {}) {
    if (options.threads == 0) options.threads = 2;
    options.metrics_port = 0;
    gateway_ = std::make_unique<Gateway>(routes_, keys_, options, &registry_);
    ASSERT_TRUE(gateway_->start().ok());
    ASSERT_NE(gateway_->port(), 0);
  }
  std::uint16_t port() const { return gateway_->port(); }
  // The metrics listener's page; empty when it did not answer.
  std::string metrics() {
    auto r = kubefn::testing::http_request(gateway_->metrics_port(), "GET", "/metrics");
    return r ? r->body : std::string();
  }
  std::optional<double> metric(const std::string& series) {
    return kubefn::testing::metric_value(metrics(), series);
  }

  RouteTable routes_;
  KeyRing keys_;
  prometheus::Registry registry_;
  std::unique_ptr<Gateway> gateway_;
};

}  // namespace kubefn::gateway::e2e
