// Shared by the NATS end-to-end tests: options for a test connection and a record of the
// states a connection went through.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "kubefn/nats/connection.hpp"
#include "kubefn/testing/nats_server.hpp"

namespace kubefn::nats::testing {

using kubefn::testing::NatsServer;  // tests/support: the real nats-server

// The states a connection reported, in order (callbacks come on its callback thread).
class StateLog {
 public:
  void record(ConnectionState s) {
    std::lock_guard lock(mu_);
    states_.push_back(s);
  }
  bool saw(ConnectionState s) const {
    std::lock_guard lock(mu_);
    return std::find(states_.begin(), states_.end(), s) != states_.end();
  }
  std::vector<ConnectionState> states() const {
    std::lock_guard lock(mu_);
    return states_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<ConnectionState> states_;
};

// Quick to notice a dropped server and to come back, so that tests wait little.
inline Options test_options(const std::string& url) {
  Options o;
  o.url = url;
  o.name = "kubefn-nats-e2e";
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.reconnect.initial_delay = std::chrono::milliseconds(50);
  o.reconnect.max_delay = std::chrono::milliseconds(500);
  return o;
}

inline Connection connect_or_die(Options options) {
  auto c = Connection::connect(std::move(options));
  if (!c.ok()) {
    ADD_FAILURE() << "connect: " << c.status().to_string();
    std::abort();
  }
  return std::move(*c);
}

}  // namespace kubefn::nats::testing
