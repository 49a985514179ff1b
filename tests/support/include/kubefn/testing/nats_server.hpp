// A real nats-server for the tests: 127.0.0.1 only, a port it picks (read from its ports file),
// JetStream in a store of its own, stopped and started again on the same port and store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kubefn/testing/process.hpp"
#include "kubefn/testing/temp_dir.hpp"

namespace kubefn::testing {

class NatsServer {
 public:
  // `extra_args` are added to the command line (--user/--pass, --auth, -c FILE, ...).
  explicit NatsServer(std::vector<std::string> extra_args = {});
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url() const;  // nats://127.0.0.1:<port>
  const TempDir& dir() const { return dir_; }

  // Sends `signal` and waits for the exit (SIGTERM: the server flushes its store first).
  void stop(int signal);
  // Starts it again on the same port and store; returns once it listens.
  void start();
  void signal(int signal) const;
  // What the server logged, for failure messages.
  std::string log() const;

 private:
  void launch(const std::string& port_arg);

  TempDir dir_;
  std::vector<std::string> extra_args_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
  int runs_ = 0;
};

}  // namespace kubefn::testing
